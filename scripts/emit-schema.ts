// Writes schema.graphql from the type-graphql classes (run: npm run schema:emit).
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { getSchema, printSchema } from '../src/schema/build-schema';

async function main(): Promise<void> {
  const file = path.resolve(__dirname, '..', '..', 'schema.graphql');
  writeFileSync(file, printSchema(await getSchema()));
  console.log(`wrote ${file}`);
}

void main();
