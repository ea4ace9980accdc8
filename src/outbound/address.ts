// Header and address validation for outbound mail (pure). Anything that would end up in a header is
// checked here and REJECTED when it holds CR or LF (or another control character): header injection
// ("Subject: hi\r\nBcc: everyone@") is refused, never cleaned up and passed on.

export interface Address {
  name: string;
  address: string;
}

export type AddressInput = string | { name?: string; address: string };

/** A client mistake in a message: the field it concerns and why; becomes a 400. */
export class MessageInputError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field} ${message}`);
    this.name = 'MessageInputError';
  }
}

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f]/;
const LOCAL = /^[\p{L}\p{N}!#$%&'*+/=?^_`{|}~-]+(\.[\p{L}\p{N}!#$%&'*+/=?^_`{|}~-]+)*$/u;
const LABEL = /^[\p{L}\p{N}]([\p{L}\p{N}-]{0,61}[\p{L}\p{N}])?$/u;

/** Header text (subject, display name, filename): no CR, no LF, no other control characters. */
export function checkHeaderText(field: string, value: string, max = 998): string {
  if (/[\r\n]/.test(value)) throw new MessageInputError(field, 'must not contain CR or LF');
  if (CONTROL.test(value)) throw new MessageInputError(field, 'must not contain control characters');
  if (value.length > max) throw new MessageInputError(field, `must be at most ${max} characters`);
  return value;
}

export function isValidEmail(address: string): boolean {
  if (address.length > 254) return false;
  const at = address.lastIndexOf('@');
  if (at <= 0 || at === address.length - 1) return false;
  const local = address.slice(0, at);
  const domain = address.slice(at + 1);
  if (local.length > 64 || !LOCAL.test(local)) return false;
  const labels = domain.split('.');
  return labels.length >= 2 && labels.every((l) => LABEL.test(l));
}

export function checkAddress(field: string, input: AddressInput): Address {
  const a = typeof input === 'string' ? { address: input } : input;
  const address = String(a.address ?? '').trim();
  if (/[\r\n]/.test(address)) throw new MessageInputError(`${field}.address`, 'must not contain CR or LF');
  if (!isValidEmail(address)) throw new MessageInputError(typeof input === 'string' ? field : `${field}.address`, 'must be an e-mail address (local@domain)');
  const name = a.name === undefined ? '' : checkHeaderText(`${field}.name`, a.name, 200).trim();
  return { name, address };
}

export function checkAddresses(field: string, input: AddressInput | AddressInput[] | undefined): Address[] {
  if (input === undefined) return [];
  const list = Array.isArray(input) ? input : [input];
  return list.map((a, i) => checkAddress(Array.isArray(input) ? `${field}[${i}]` : field, a));
}

/** Domain of an address, lower-cased ('' if none). */
export function domainOf(address: string): string {
  const at = address.lastIndexOf('@');
  return at < 0 ? '' : address.slice(at + 1).toLowerCase();
}
