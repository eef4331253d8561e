// Reads of the API through TanStack Query: every query is keyed by its API path first, so a live
// notification or a write invalidates every read under a path (see `invalidatePaths`), and a list
// pages on with the gateway's cursors (`usePagedQuery`).
import {
  keepPreviousData,
  QueryClient,
  queryOptions,
  useInfiniteQuery,
  type InfiniteData,
  type QueryKey,
} from "@tanstack/react-query";

import { api, type Page, type RequestOptions } from "./client";

export const queryClient = new QueryClient({
  defaultOptions: {
    // A failed read shows its error (with "retry") at once; data is refetched when a screen opens
    // again or an event invalidates it, not on window focus.
    queries: { retry: false, refetchOnWindowFocus: false },
  },
});

type Query = RequestOptions["query"];

/** A GET of the API: its key is the path and the query, its function the call. */
export function apiQuery<T>(path: string, query?: Query) {
  return queryOptions({
    queryKey: [path, query ?? {}] as const,
    queryFn: ({ signal }) => api<T>(path, { query, signal }),
    // Another id or filter shows what was read before until its own answer arrives.
    placeholderData: keepPreviousData,
  });
}

/** Marks stale every query whose path starts with one of `prefixes`; the mounted ones refetch. */
export function invalidatePaths(...prefixes: string[]): Promise<void> {
  return queryClient.invalidateQueries({
    predicate: (query) => {
      const path = query.queryKey[0];
      return typeof path === "string" && prefixes.some((prefix) => path.startsWith(prefix));
    },
  });
}

export interface Paged<T, P extends Page<T> = Page<T>> {
  items: T[];
  /** The pages as loaded, first one first (e.g. for what a page says besides its items). */
  pages: P[];
  error: unknown;
  loading: boolean;
  hasMore: boolean;
  loadMore(): void;
  reload(): void;
}

/** The key of `usePagedQuery(key, ...)`'s pages, e.g. to put a new item in them. */
export function pagesKey(key: QueryKey): QueryKey {
  return [...key, "pages"];
}

/** A cursor-paginated list under `key` (path first): the first page, then "load more". */
export function usePagedQuery<P extends Page<unknown>>(
  key: QueryKey,
  loadPage: (cursor: string | null, signal: AbortSignal) => Promise<P>,
  options: { enabled?: boolean; refetchInterval?: () => number | false } = {},
): Paged<P["items"][number], P> {
  const query = useInfiniteQuery<P, Error, InfiniteData<P, string | null>, QueryKey, string | null>({
    queryKey: pagesKey(key),
    queryFn: ({ pageParam, signal }) => loadPage(pageParam, signal),
    initialPageParam: null,
    getNextPageParam: (last) => last.next_cursor,
    enabled: options.enabled,
    refetchInterval: options.refetchInterval,
    // Other filters show the list as it was until their first page arrives.
    placeholderData: keepPreviousData,
  });
  const pages = query.data?.pages ?? [];
  return {
    items: pages.flatMap((page) => page.items as P["items"][number][]),
    pages,
    error: query.error ?? undefined,
    loading: query.isFetching,
    hasMore: query.hasNextPage,
    loadMore: () => void (query.hasNextPage && !query.isFetchingNextPage && query.fetchNextPage()),
    reload: () => void query.refetch(),
  };
}
