/**
 * The application's own GraphQL: notes that belong to the signed-in user. Every root field says
 * @Auth() or @Public(), as Warden's own do; Warden refuses to build a schema where one says neither.
 */
import { randomUUID } from 'node:crypto';
import { Arg, Ctx, Field, ID, Int, Mutation, ObjectType, Query, Resolver } from 'type-graphql';
import { AppError, Auth, ErrorCode, Public, type WardenContext } from 'warden';

@ObjectType()
export class Note {
  @Field(() => ID)
  id!: string;

  @Field(() => String)
  text!: string;

  @Field(() => Date)
  createdAt!: Date;
}

/** The application's data: kept in memory here; a real one would have its own database. */
const notesByUser = new Map<string, Note[]>();

@Resolver(() => Note)
export class NotesResolver {
  @Query(() => [Note], { description: "The viewer's notes, newest first." })
  @Auth()
  myNotes(@Ctx() ctx: WardenContext): Note[] {
    // @Auth() has already turned "no viewer" into UNAUTHENTICATED (or the precise reason).
    return [...(notesByUser.get(ctx.viewer!.userId) ?? [])].reverse();
  }

  @Mutation(() => Note)
  @Auth()
  addNote(@Arg('text', () => String) text: string, @Ctx() ctx: WardenContext): Note {
    const trimmed = text.trim();
    if (trimmed.length === 0 || trimmed.length > 500) {
      throw new AppError(ErrorCode.BAD_USER_INPUT, 'A note has 1 to 500 characters.');
    }
    const note = { id: randomUUID(), text: trimmed, createdAt: new Date() };
    notesByUser.set(ctx.viewer!.userId, [...(notesByUser.get(ctx.viewer!.userId) ?? []), note]);
    return note;
  }

  @Query(() => Int, { description: 'How many notes exist, for anyone to see.' })
  @Public()
  noteCount(): number {
    let count = 0;
    for (const notes of notesByUser.values()) count += notes.length;
    return count;
  }

  @Mutation(() => Int, { description: 'Deletes every note (administrators only).' })
  @Auth('ADMIN')
  clearNotes(): number {
    const count = this.noteCount();
    notesByUser.clear();
    return count;
  }
}
