// Dovecot's `log_timestamp`: a strftime(3) format put before every log line, written to a file or
// to stderr alike (default "%b %d %H:%M:%S "; empty: no timestamp). Checked on Dovecot 2.3.19.

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const MONTHS_LONG = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];
const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const DAYS_LONG = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];

export const DEFAULT_LOG_TIMESTAMP = '%b %d %H:%M:%S ';

const p2 = (n: number) => String(n).padStart(2, '0');

function zone(d: Date): string {
  const off = -d.getTimezoneOffset();
  const a = Math.abs(off);
  return `${off < 0 ? '-' : '+'}${p2(Math.floor(a / 60))}${p2(a % 60)}`;
}

/** The strftime conversions a log timestamp uses, in local time; unknown ones are kept as written. */
export function strftime(format: string, d: Date): string {
  return format.replace(/%([a-zA-Z%])/g, (all, c: string) => {
    switch (c) {
      case 'a': return DAYS[d.getDay()]!;
      case 'A': return DAYS_LONG[d.getDay()]!;
      case 'b': case 'h': return MONTHS[d.getMonth()]!;
      case 'B': return MONTHS_LONG[d.getMonth()]!;
      case 'd': return p2(d.getDate());
      case 'e': return String(d.getDate()).padStart(2, ' ');
      case 'H': return p2(d.getHours());
      case 'I': return p2(((d.getHours() + 11) % 12) + 1);
      case 'j': {
        const start = new Date(d.getFullYear(), 0, 1);
        return String(Math.floor((d.getTime() - start.getTime()) / 86_400_000) + 1).padStart(3, '0');
      }
      case 'm': return p2(d.getMonth() + 1);
      case 'M': return p2(d.getMinutes());
      case 'p': return d.getHours() < 12 ? 'AM' : 'PM';
      case 'S': return p2(d.getSeconds());
      case 's': return String(Math.floor(d.getTime() / 1000));
      case 'T': return `${p2(d.getHours())}:${p2(d.getMinutes())}:${p2(d.getSeconds())}`;
      case 'F': return `${d.getFullYear()}-${p2(d.getMonth() + 1)}-${p2(d.getDate())}`;
      case 'D': return `${p2(d.getMonth() + 1)}/${p2(d.getDate())}/${p2(d.getFullYear() % 100)}`;
      case 'Y': return String(d.getFullYear());
      case 'y': return p2(d.getFullYear() % 100);
      case 'z': return zone(d);
      case '%': return '%';
      default: return all;
    }
  });
}
