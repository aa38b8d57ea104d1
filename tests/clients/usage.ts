// What a TypeScript client of Perles writes with the types openapi-typescript generates from
// /openapi.json. tests/test_api_clients.py writes them to perles-api.ts beside a copy of this
// file and compiles both with `tsc --strict --noEmit` (tsconfig.json); nothing here is run. A
// field renamed, retyped, made optional or left untyped in the document breaks the build.
import type { components, operations, paths } from "./perles-api";

type Schemas = components["schemas"];
type Json<Answer> = Answer extends { content: { "application/json": infer Body } } ? Body : never;

// Exact equality, where mere assignability would let `any`, `unknown` or `undefined` through.
type Equals<A, B> =
  (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
type Expect<T extends true> = T;

// --- reads: boards, the articles, one article --------------------------------------------------

type BoardPath = paths["/api/collections/{slug}"]["get"];
type Board = BoardPath["responses"]["200"]["content"]["application/json"];
type Card = Board["cards"][number];
type ArticlesPage = Json<operations["list_articles"]["responses"]["200"]>;
type LinksPage = Json<operations["list_links"]["responses"]["200"]>;
type Article = Json<operations["get_article"]["responses"]["200"]>;
type Collections = Json<operations["list_collections"]["responses"]["200"]>;
type ApiError = Json<operations["get_board"]["responses"]["404"]>;

export type Checks = [
  Expect<Equals<Board["cards"][number]["title"], string>>,
  Expect<Equals<Card["collection"], string>>,
  Expect<Equals<Card["pearl_id"], number>>,
  Expect<Equals<Card["note"], string>>,
  Expect<Equals<Card["tags"], string[]>>,
  Expect<Equals<Card["published"], string | null>>,
  Expect<Equals<Board["next_cursor"], string | null>>,
  Expect<Equals<ArticlesPage["cards"], Card[]>>,
  Expect<Equals<ArticlesPage["next_cursor"], string | null>>,
  Expect<Equals<LinksPage["next_cursor"], string | null>>,
  Expect<Equals<Collections, Schemas["CollectionSummary"][]>>,
  Expect<Equals<ApiError, Schemas["ErrorResponse"]>>,
  Expect<Equals<Schemas["ErrorResponse"]["error"]["code"], string>>,
  Expect<Equals<BoardPath["parameters"]["path"]["slug"], string>>,
  Expect<Equals<BoardPath["responses"]["200"]["headers"]["ETag"], string | undefined>>,
  // The headers a client follows: the next page of collections, the pearl made or found.
  Expect<Equals<operations["list_collections"]["responses"]["200"]["headers"]["Link"], string | undefined>>,
  Expect<Equals<operations["create_pearl"]["responses"]["201"]["headers"]["Location"], string | undefined>>,
  Expect<Equals<operations["create_pearl"]["responses"]["409"]["headers"]["Location"], string | undefined>>,
  // Every write and update documents its errors with the one error body.
  Expect<Equals<Json<operations["create_pearl"]["responses"]["409"]>, Schemas["ErrorResponse"]>>,
  Expect<Equals<Json<operations["create_pearl"]["responses"]["429"]>, Schemas["ErrorResponse"]>>,
  Expect<Equals<Json<operations["update_pearl"]["responses"]["412"]>, Schemas["ErrorResponse"]>>,
  Expect<Equals<Json<operations["update_pearl"]["responses"]["428"]>, Schemas["ErrorResponse"]>>,
  Expect<Equals<operations["update_pearl"]["parameters"]["header"]["If-Match"], string>>,
];

export class PerlesError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

async function read<Body>(answer: Response): Promise<Body> {
  if (!answer.ok) {
    const failure = (await answer.json()) as ApiError;
    throw new PerlesError(answer.status, failure.error.code, failure.error.message);
  }
  return (await answer.json()) as Body;
}

type QueryValue = string | number | boolean | string[] | null | undefined;

function query(values: Record<string, QueryValue>): string {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(values)) {
    for (const one of Array.isArray(value) ? value : [value]) {
      if (one !== null && one !== undefined) search.append(name, String(one));
    }
  }
  return search.toString();
}

/** Every card's title on a board, following `next_cursor` page by page. */
export async function boardTitles(base: string, slug: string): Promise<string[]> {
  const titles: string[] = [];
  let cursor: string | null = null;
  do {
    const params: NonNullable<BoardPath["parameters"]["query"]> = {
      limit: 50,
      ...(cursor === null ? {} : { cursor }),
    };
    const board: Board = await read<Board>(
      await fetch(`${base}/api/collections/${encodeURIComponent(slug)}?${query(params)}`),
    );
    titles.push(...board.cards.map((card) => card.title));
    cursor = board.next_cursor;
  } while (cursor !== null);
  return titles;
}

/** The articles added to a collection since a date, each with its collection and note. */
export async function recentArticles(
  base: string,
  collection: string,
  since: string,
): Promise<Array<{ title: string; collection: string; note: string; published: string | null }>> {
  const found: Card[] = [];
  let cursor: string | null = null;
  do {
    const params: NonNullable<operations["list_articles"]["parameters"]["query"]> = {
      collection,
      added_since: since,
      limit: 100,
      ...(cursor === null ? {} : { cursor }),
    };
    const page: ArticlesPage = await read<ArticlesPage>(
      await fetch(`${base}/api/articles?${query(params)}`),
    );
    found.push(...page.cards);
    cursor = page.next_cursor;
  } while (cursor !== null);
  return found.map(({ title, collection, note, published }) => ({
    title,
    collection,
    note,
    published,
  }));
}

/** Every link of the board, as a plain list. */
export async function allLinks(base: string): Promise<string[]> {
  const page: LinksPage = await read<LinksPage>(await fetch(`${base}/api/links?limit=200`));
  return page.links.map(
    (link) => `${link.collection}/${link.pearl_id} ${link.title} <${link.url}> ${link.added_at}`,
  );
}

/** One article: where it comes from and its clean copy, or null when it could not be read. */
export async function articleCopy(base: string, id: number): Promise<string | null> {
  const article: Article = await read<Article>(await fetch(`${base}/api/articles/${id}`));
  const holders: string[] = article.collections.map((c) => c.slug);
  return holders.length > 0 ? article.content_html : null;
}

// --- writes, with a token ----------------------------------------------------------------------

type NewCollection = NonNullable<operations["create_collection"]["requestBody"]>["content"]["application/json"];
type NewPearl = paths["/api/collections/{slug}/pearls"]["post"]["requestBody"]["content"]["application/json"];
type Pearl = Json<operations["create_pearl"]["responses"]["201"]>;
type PearlEdit = NonNullable<operations["update_pearl"]["requestBody"]>["content"]["application/json"];

/** A new collection under `parent`: its slug. */
export async function createCollection(
  base: string,
  token: string,
  title: string,
  parent: string,
): Promise<string> {
  const body: NewCollection = { title, parent };
  const made: Board = await read<Board>(
    await fetch(`${base}/api/collections`, {
      method: "POST",
      headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
      body: JSON.stringify(body),
    }),
  );
  return made.collection.slug;
}

/** Add a URL to a collection, then annotate it with the ETag read: 412 if it changed since. */
export async function addAndAnnotate(
  base: string,
  token: string,
  slug: string,
  url: string,
  note: string,
): Promise<Pearl> {
  const auth = { Authorization: `Bearer ${token}`, "Content-Type": "application/json" };
  const body: NewPearl = { url };
  const added: Pearl = await read<Pearl>(
    await fetch(`${base}/api/collections/${encodeURIComponent(slug)}/pearls`, {
      method: "POST",
      headers: auth,
      body: JSON.stringify(body),
    }),
  );
  const current = await fetch(`${base}/api/pearls/${added.id}`, { headers: auth });
  const etag: string | null = current.headers.get("ETag");
  if (etag === null) throw new Error("a read without an ETag");
  const edit: PearlEdit = { note };
  const headers: operations["update_pearl"]["parameters"]["header"] = { "If-Match": etag };
  return read<Pearl>(
    await fetch(`${base}/api/pearls/${added.id}`, {
      method: "PATCH",
      headers: { ...auth, ...headers },
      body: JSON.stringify(edit),
    }),
  );
}
