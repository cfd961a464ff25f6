/**
 * Identity: who a user is and how they prove it. Offers sign-up, sign-in and turning a verified
 * access token into a viewer (AuthService), and changing a password, which ends the user's other
 * sessions (ChangePasswordService).
 * Resolvers: auth.resolver.ts, read by src/schema/build-schema.ts only.
 */
export { AuthService } from './auth.service';
export { ChangePasswordService } from './change-password.service';
