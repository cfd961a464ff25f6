import { type TestServer } from '../kit';
/** GraphQL documents and helpers shared by the post, follow and feed tests. */

export const POST_FIELDS = 'id title body published createdAt updatedAt author { id name }';
export const CREATE_POST = `mutation($input: CreatePostInput!) { createPost(input: $input) { ${POST_FIELDS} } }`;
export const UPDATE_POST = `mutation($id: ID!, $input: UpdatePostInput!) { updatePost(id: $id, input: $input) { ${POST_FIELDS} } }`;
export const DELETE_POST = 'mutation($id: ID!) { deletePost(id: $id) }';
export const GET_POST = `query($id: ID!) { post(id: $id) { ${POST_FIELDS} } }`;
export const LIST_POSTS = `query($first: Int, $after: String, $authorId: ID) {
  posts(first: $first, after: $after, authorId: $authorId) { edges { cursor node { id title published author { id } } } pageInfo { hasNextPage endCursor } }
}`;
export const FEED = `query($first: Int, $after: String) {
  feed(first: $first, after: $after) { edges { cursor node { id title published author { id } } } pageInfo { hasNextPage endCursor } }
}`;
export const FOLLOW = 'mutation($id: ID!) { follow(userId: $id) { id followerCount followingCount } }';
export const UNFOLLOW = 'mutation($id: ID!) { unfollow(userId: $id) { id followerCount followingCount } }';
export const COUNTS = 'query($id: ID!) { user(id: $id) { id followerCount followingCount } }';

export const MISSING_ID = '00000000-0000-4000-8000-000000000000';

export interface PostData {
  id: string;
  title: string;
  body: string;
  published: boolean;
  createdAt: string;
  updatedAt: string;
  author: { id: string; name: string };
}

/** Creates a post through the API and returns it; fails the test on any error. */
export async function createPost(
  server: TestServer,
  token: string,
  input: { title?: string; body?: string; published?: boolean } = {},
): Promise<PostData> {
  const res = await server.gql(CREATE_POST, { input: { title: 'A title', body: 'A body', ...input } }, { token });
  if (res.body.errors) throw new Error(`createPost failed: ${JSON.stringify(res.body.errors)}`);
  return res.body.data!.createPost;
}

export interface Page {
  edges: Array<{ cursor: string; node: { id: string; title: string; published: boolean; author: { id: string } } }>;
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
}

export const ids = (page: Page) => page.edges.map((edge) => edge.node.id);
