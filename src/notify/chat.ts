import type { Notification, Notifier } from '../ports/notifier.js';
import type { ChannelConfig } from './config.js';
import { bodyLines, headline } from './format.js';
import { postJson } from './http-post.js';

type ChatChannel = Extract<ChannelConfig, { type: 'slack' | 'discord' }>;

/** Discord refuses `content` over 2,000 characters; Slack truncates `text` far later (40,000). */
const DISCORD_LIMIT = 2_000;

/**
 * The body of a Slack incoming webhook: `text` (mrkdwn) is what notifications and clients without
 * blocks show; the same text in one section block keeps it readable in the channel.
 */
export function slackBody(notification: Notification) {
  const text = `*Vigil*: ${escapeSlack(headline(notification.events))}\n${bodyLines(
    notification.events,
  )
    .map((line) => `• ${escapeSlack(line)}`)
    .join('\n')}`;
  return {
    text,
    blocks: [{ type: 'section', text: { type: 'mrkdwn', text: text.slice(0, 3_000) } }],
  };
}

/** The body of a Discord webhook: plain `content`, mentions disabled. */
export function discordBody(notification: Notification) {
  let content = `**Vigil**: ${headline(notification.events)}\n${bodyLines(notification.events)
    .map((line) => `- ${line}`)
    .join('\n')}`;
  if (content.length > DISCORD_LIMIT) content = `${content.slice(0, DISCORD_LIMIT - 1)}…`;
  // An execution id like "@everyone" must not ping a whole server.
  return { content, allowed_mentions: { parse: [] as string[] } };
}

/** Slack's mrkdwn needs &, < and > escaped; everything else is shown as written. */
function escapeSlack(text: string): string {
  return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
}

/** Slack or Discord incoming webhook. */
export function chatNotifier(channel: ChatChannel, timeoutMs: number): Notifier {
  const render = channel.type === 'slack' ? slackBody : discordBody;
  return {
    channel: channel.name,
    async deliver(notification) {
      await postJson({
        url: channel.url,
        body: JSON.stringify(render(notification)),
        timeoutMs,
        secrets: [channel.url],
      });
    },
  };
}
