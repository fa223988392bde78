import type { Transporter } from 'nodemailer';
import type { Notification, Notifier } from '../ports/notifier.js';
import type { ChannelConfig } from './config.js';
import { DeliveryError, toDeliveryError } from './delivery-error.js';
import { bodyLines, deliveryId, headline } from './format.js';
import { redactSecrets } from './secret.js';

type EmailChannel = Extract<ChannelConfig, { type: 'email' }>;

/** The subject and plain-text body of a notification email. */
export function emailContent(
  notification: Notification,
  prefix: string,
  now: number,
): { subject: string; text: string } {
  const subject = `${prefix ? `${prefix} ` : ''}${headline(notification.events)}`;
  const text = [
    ...bodyLines(notification.events),
    '',
    `Sent by Vigil at ${new Date(now).toISOString()} (notification ${notification.ids[0]}).`,
  ].join('\n');
  return { subject, text };
}

/**
 * Email over SMTP. The mail client is loaded at the first delivery: a `vigil sweep` from cron
 * with an email channel and nothing to send never loads it.
 */
export function emailNotifier(channel: EmailChannel, timeoutMs: number): Notifier {
  const { smtp } = channel;
  let transport: Transporter | undefined;
  let closed = false;
  const open = async (): Promise<Transporter> => {
    const { default: nodemailer } = await import('nodemailer');
    return (transport ??= nodemailer.createTransport({
      host: smtp.host,
      port: smtp.port,
      secure: smtp.tls === 'implicit',
      requireTLS: smtp.tls === 'starttls',
      ignoreTLS: smtp.tls === 'none',
      auth:
        smtp.user === null ? undefined : { user: smtp.user, pass: smtp.password?.reveal() ?? '' },
      connectionTimeout: timeoutMs,
      greetingTimeout: timeoutMs,
      socketTimeout: timeoutMs,
    }));
  };
  return {
    channel: channel.name,
    async deliver(notification, now) {
      const { subject, text } = emailContent(notification, channel.subjectPrefix, now);
      try {
        const mailer = await open();
        await mailer.sendMail({
          from: channel.from,
          to: channel.to,
          subject,
          text,
          headers: { 'X-Vigil-Delivery': deliveryId(notification) },
        });
      } catch (error) {
        throw smtpError(error, [smtp.password]);
      } finally {
        // Closed while this delivery loaded the mail client or sent: close what it opened.
        if (closed) transport?.close();
      }
    },
    close() {
      closed = true;
      transport?.close();
      return Promise.resolve();
    },
  };
}

/**
 * SMTP's own answer decides: 4xx is "try again later", 5xx and failed authentication are
 * refusals. A connection that failed is an outage.
 */
function smtpError(error: unknown, secrets: Parameters<typeof redactSecrets>[1]): DeliveryError {
  const { code, responseCode, message } = error as {
    code?: string;
    responseCode?: number;
    message?: string;
  };
  if (typeof responseCode === 'number' || code === 'EAUTH') {
    const transient = typeof responseCode === 'number' && responseCode < 500;
    return new DeliveryError(
      `SMTP server refused: ${redactSecrets(String(message ?? code), secrets)
        .replace(/\s+/g, ' ')
        .slice(0, 300)}`,
      transient,
    );
  }
  return toDeliveryError(error);
}
