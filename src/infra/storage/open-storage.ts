import type { Logger } from 'pino';
import type { Config } from '../../config';
import { FileStorage } from './file-storage';
import { S3Storage } from './s3-storage';
import type { ObjectStorage } from './storage';

/** Opens the storage STORAGE_URL names. */
export async function openStorage(config: Config, logger: Logger): Promise<ObjectStorage> {
  const target = config.storage;
  if (target.kind === 'file') {
    if (config.isProduction && !config.storagePublicUrlSet) {
      logger.warn(
        `STORAGE_PUBLIC_URL is unset: avatar URLs name ${config.storagePublicUrl}; set it to the address clients reach Warden at`,
      );
    }
    return FileStorage.open({
      dir: target.dir,
      publicUrl: config.storagePublicUrl,
      signingSecrets: [config.jwtSecret, config.jwtSecretPrevious].filter((secret): secret is string => Boolean(secret)),
    });
  }
  return new S3Storage({ ...target, publicUrl: config.storagePublicUrl });
}
