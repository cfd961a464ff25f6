/** The generated avatar every user gets at signup, and gets back when they clear an uploaded one. */
export function defaultAvatarUrl(userId: string): string {
  return `https://api.dicebear.com/9.x/identicon/svg?seed=${userId}`;
}
