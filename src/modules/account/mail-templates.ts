/**
 * The mails Warden sends, each as a plain-text and an HTML body.
 *
 * They carry nothing a user typed: not even the account's name. Anyone can sign up with someone
 * else's address, and a name like "…Call +1 555 … to keep your account" would then reach that
 * person inside a genuine Warden mail. Only the code or token and fixed text go in.
 */
import type { MailMessage } from '../../infra/mailer';

export type MailContent = Omit<MailMessage, 'to'>;

const escapeHtml = (text: string): string =>
  text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

function page(title: string, paragraphs: string[], secret: string, secretStyle: string): string {
  const body = paragraphs.map((p) => `<p style="margin:0 0 16px">${escapeHtml(p)}</p>`);
  // The secret goes after the first paragraph.
  body.splice(1, 0, `<p style="margin:0 0 16px;${secretStyle}">${escapeHtml(secret)}</p>`);
  return [
    '<!doctype html>',
    `<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title></head>`,
    '<body style="font-family:system-ui,-apple-system,Segoe UI,sans-serif;color:#1f2328;line-height:1.5">',
    '<div style="max-width:480px;margin:0 auto;padding:24px">',
    ...body,
    '<p style="margin:24px 0 0;color:#6e7781;font-size:13px">Warden</p>',
    '</div></body></html>',
  ].join('\n');
}

/** The 6-digit code `signup` and `requestEmailVerification` send. */
export function verificationCodeMail(input: { code: string; validMinutes: number }): MailContent {
  const lines = [
    'Your Warden verification code is:',
    `It is valid for ${input.validMinutes} minutes and works once. A newer code replaces it.`,
    'If you did not create a Warden account, you can ignore this mail.',
  ];
  return {
    subject: 'Verify your email for Warden',
    text: [lines[0], '', `    ${input.code}`, '', lines[1], '', lines[2], ''].join('\n'),
    html: page(
      'Verify your email',
      lines,
      input.code,
      'font-size:28px;font-weight:700;letter-spacing:6px;font-family:ui-monospace,Menlo,monospace',
    ),
  };
}

/** The token `requestPasswordReset` sends to a registered address. */
export function passwordResetMail(input: { token: string; validMinutes: number }): MailContent {
  const lines = [
    'Someone (hopefully you) asked to reset the password of the Warden account for this address. Your reset token is:',
    `It is valid for ${input.validMinutes} minutes and works once. Setting a new password with it signs you out everywhere.`,
    'If you did not ask for this, ignore this mail: your password has not changed.',
  ];
  return {
    subject: 'Reset your Warden password',
    text: [lines[0], '', `    ${input.token}`, '', lines[1], '', lines[2], ''].join('\n'),
    html: page('Reset your password', lines, input.token, 'font-size:16px;font-family:ui-monospace,Menlo,monospace;word-break:break-all'),
  };
}
