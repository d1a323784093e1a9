# Records Dovecot's answers to a URLAUTH script: python3 record.py PORT > dovecot-answers.json
import json, re, socket, sys, time
PORT = int(sys.argv[1])
MSG = (b'From: a@example.org\r\nSubject: hi\r\nMIME-Version: 1.0\r\n'
       b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nhello world\r\n'
       b'--b\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\nAAECAwQ=\r\n--b--\r\n')

class Conn:
    def __init__(self):
        self.s = socket.create_connection(('127.0.0.1', PORT)); self.f = self.s.makefile('rb'); self.f.readline(); self.n = 0
    def cmd(self, line, literal=None):
        self.n += 1; tag = f't{self.n}'
        if literal is not None:
            self.s.sendall(f'{tag} {line} {{{len(literal)}+}}\r\n'.encode() + literal + b'\r\n')
        else:
            self.s.sendall(f'{tag} {line}\r\n'.encode())
        out = []
        while True:
            l = self.f.readline()
            if not l: out.append('<EOF>'); break
            text = l.decode('latin1').rstrip('\r\n')
            m = re.search(r'~?\{(\d+)\}$', text)
            if m:
                text += self.f.read(int(m.group(1))).decode('latin1')
                while True:  # the rest of the line after the literal
                    rest = self.f.readline().decode('latin1').rstrip('\r\n'); text += rest
                    m2 = re.search(r'~?\{(\d+)\}$', rest)
                    if not m2: break
                    text += self.f.read(int(m2.group(1))).decode('latin1')
            out.append(text)
            if text.startswith(tag + ' '): break
        return out

steps = []
def run(who, c, line, literal=None, record=True):
    out = c.cmd(line, literal)
    steps.append({'session': who, 'command': line, 'answer': out})
    print(who, line[:160], *('    ' + a[:300] for a in out), sep='\n', file=sys.stderr)
    return out

A = Conn(); B = Conn()
run('A', A, 'LOGIN alice secret'); run('B', B, 'LOGIN alice secret')
run('A', A, 'APPEND INBOX', MSG)
sel = run('A', A, 'SELECT INBOX')
uv = re.search(r'UIDVALIDITY (\d+)', ' '.join(sel)).group(1)
host = f'imap://alice@localhost:{PORT}'
rump = f'{host}/INBOX;UIDVALIDITY={uv}/;UID=1;urlauth=user+alice'
json.dump  # keep the script short
def step(who, c, line, literal=None): return run(who, c, line, literal)
step('A', A, 'RESETKEY INBOX')
step('A', A, 'RESETKEY INBOX INTERNAL')
step('A', A, 'RESETKEY INBOX XFOO')
step('A', A, 'RESETKEY nosuch')
gen = step('A', A, f'GENURLAUTH "{rump}" INTERNAL')
url = re.search(r'(imap://[^" ]+)', gen[0]).group(1)
step('A', A, f'GENURLAUTH "{rump}" XFOO')
step('A', A, f'GENURLAUTH "{host}/INBOX/;UID=1" INTERNAL')
step('A', A, f'GENURLAUTH "imap://bob@localhost:{PORT}/INBOX/;UID=1;urlauth=user+alice" INTERNAL')
step('A', A, f'GENURLAUTH "imap://alice@otherhost:{PORT}/INBOX/;UID=1;urlauth=user+alice" INTERNAL')
step('A', A, f'GENURLAUTH "{host}/INBOX/;UID=1;expire=2000-01-01T00:00:00Z;urlauth=anonymous" INTERNAL')
step('A', A, f'GENURLAUTH "{host}/INBOX/;UID=99;urlauth=anonymous" INTERNAL')
step('A', A, f'GENURLAUTH "{host}/nosuch/;UID=1;urlauth=anonymous" INTERNAL')
step('A', A, f'GENURLAUTH "{host}/INBOX/;UID=1/;SECTION=1;urlauth=authuser" INTERNAL "{host}/INBOX/;UID=1/;SECTION=2;urlauth=submit+alice" INTERNAL')
sect = re.findall(r'(imap://\S+)', step('A', A, f'GENURLAUTH "{host}/INBOX/;UID=1/;SECTION=1;urlauth=authuser" INTERNAL "{host}/INBOX/;UID=1/;SECTION=2;urlauth=anonymous" INTERNAL')[0])
step('A', A, 'GENURLAUTH')
step('A', A, f'GENURLAUTH "{rump}"')
step('B', B, f'URLFETCH "{url}"')
step('B', B, f'URLFETCH "{url}" "{url[:-4]}0000"')
step('B', B, f'URLFETCH {sect[0]} ({sect[1]} BODYPARTSTRUCTURE BINARY)')
step('B', B, f'URLFETCH ({sect[1]} BINARY)')
step('B', B, f'URLFETCH ({sect[1]} BODY)')
step('B', B, f'URLFETCH ({sect[1]} BODYPARTSTRUCTURE)')
step('B', B, f'URLFETCH ({url})')
step('B', B, f'URLFETCH ({sect[1]} BODY BINARY)')
step('B', B, f'URLFETCH ({sect[1]} XFOO)')
step('B', B, 'URLFETCH')
step('B', B, f'URLFETCH "{host}/INBOX/;UID=1"')
step('B', B, f'URLFETCH "{host}/INBOX/;UID=1;urlauth=anonymous:internal:0123"')
step('B', B, f'URLFETCH "{host}/INBOX/;UID=1;urlauth=user+bob:internal:{url.split(":internal:")[1]}"')
step('B', B, f'APPEND INBOX CATENATE (URL "{url}" TEXT {{2+}}\r\nxx)')
step('B', B, f'APPEND INBOX CATENATE (URL "/INBOX/;UID=1/;SECTION=1")')
step('A', A, 'RESETKEY INBOX')
step('B', B, f'URLFETCH "{url}"')
gen2 = step('A', A, f'GENURLAUTH "{rump}" INTERNAL')
url2 = re.search(r'(imap://[^" ]+)', gen2[0]).group(1)
step('B', B, f'URLFETCH "{url2}"')
step('A', A, 'RESETKEY')
step('B', B, f'URLFETCH "{url2}"')
print(json.dumps({'steps': steps}, indent=1))
