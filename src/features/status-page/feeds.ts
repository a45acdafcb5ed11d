/** RSS 2.0 and Atom feeds of the visible incidents; every piece of user content is XML-escaped. */

/** One feed entry. */
export interface FeedItem {
  id: number;
  title: string;
  /** Plain text (escaped here). */
  summary: string;
  /** ISO-8601 UTC. */
  updated: string;
  link: string;
}

export interface Feed {
  title: string;
  /** Base URL of the site (config.publicUrl). */
  site: string;
  /** URL of this feed itself. */
  self: string;
  items: FeedItem[];
}

/** Escapes text for XML element content and attribute values; drops characters XML 1.0 cannot carry. */
export function xmlEscape(text: string): string {
  return text
    // eslint-disable-next-line no-control-regex -- removing the control characters XML 1.0 forbids is the point
    .replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/g, '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

/** RSS 2.0 document. */
export function renderRss(feed: Feed): string {
  const items = feed.items
    .map(
      (item) => `    <item>
      <title>${xmlEscape(item.title)}</title>
      <link>${xmlEscape(item.link)}</link>
      <guid isPermaLink="true">${xmlEscape(item.link)}</guid>
      <pubDate>${new Date(item.updated).toUTCString()}</pubDate>
      <description>${xmlEscape(item.summary)}</description>
    </item>`,
    )
    .join('\n');
  return `<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom">
  <channel>
    <title>${xmlEscape(feed.title)}</title>
    <link>${xmlEscape(feed.site)}/</link>
    <description>${xmlEscape(`Incidents of ${feed.title}`)}</description>
    <atom:link href="${xmlEscape(feed.self)}" rel="self" type="application/rss+xml"/>
${items}
  </channel>
</rss>
`;
}

/** Atom 1.0 document. */
export function renderAtom(feed: Feed): string {
  const newest = feed.items.reduce((max, item) => (item.updated > max ? item.updated : max), '1970-01-01T00:00:00.000Z');
  const entries = feed.items
    .map(
      (item) => `  <entry>
    <id>${xmlEscape(item.link)}</id>
    <title type="text">${xmlEscape(item.title)}</title>
    <link rel="alternate" type="text/html" href="${xmlEscape(item.link)}"/>
    <updated>${item.updated}</updated>
    <summary type="text">${xmlEscape(item.summary)}</summary>
  </entry>`,
    )
    .join('\n');
  return `<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <id>${xmlEscape(feed.site)}/</id>
  <title type="text">${xmlEscape(feed.title)}</title>
  <updated>${newest}</updated>
  <link rel="alternate" type="text/html" href="${xmlEscape(feed.site)}/"/>
  <link rel="self" type="application/atom+xml" href="${xmlEscape(feed.self)}"/>
  <author><name>${xmlEscape(feed.title)}</name></author>
${entries}
</feed>
`;
}
