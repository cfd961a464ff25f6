import { registerEnumType } from 'type-graphql';
import { Role } from '../../generated/prisma/enums';

// One Role for the database, the token and GraphQL: the enum Prisma generates from schema.prisma.
registerEnumType(Role, { name: 'Role' });

export { Role };
