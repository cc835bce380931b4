// A small offline client on imapflow (npm), the IMAP library of Nodemailer/EmailEngine: it keeps a
// local copy of every mailbox (flags and message bytes in a folder) and resynchronises it with
// CONDSTORE (RFC 7162): flags changed since the last HIGHESTMODSEQ, UID SEARCH ALL for messages
// gone, new messages from the last UIDNEXT on. QRESYNC is enabled, as imapflow users do, so the
// server reports its expunges as VANISHED.
//
// usage: node imapflow_sync.mjs PORT USER PASS CACHE_DIR initial|change|resync
// (NODE_PATH must name the node_modules folder holding imapflow.) `change` first makes the
// client-side change set of tests/clients/state.py through imapflow's own calls. Prints the cache
// as state.py's JSON state.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { ImapFlow } = require('imapflow');

const [port, user, pass, cacheDir, phase] = process.argv.slice(2);
const indexPath = path.join(cacheDir, 'index.json');

// state.py's digest: CRLF as LF, without mbsync's X-TUID header (never present here).
function digest(buf) {
    let text = buf.toString('latin1').replaceAll('\r\n', '\n');
    const end = text.indexOf('\n\n');
    let head = end < 0 ? text : text.slice(0, end);
    const rest = end < 0 ? '' : text.slice(end);
    head = (head + '\n').replace(/^X-TUID: [^\n]*\n/gm, '').slice(0, -1);
    return createHash('sha256').update(Buffer.from(head + rest, 'latin1')).digest('hex');
}

function storeBody(buf) {
    const name = createHash('sha256').update(buf).digest('hex');
    fs.writeFileSync(path.join(cacheDir, name), buf);
    return name;
}

const flagList = (set) => [...set].filter((f) => f !== '\\Recent').sort();
const uidSet = (uids) => [...uids].sort((a, b) => a - b).join(',');

async function downloadNew(client, box, uidNext) {
    const all = await client.search({ all: true }, { uid: true });
    const fresh = all.filter((u) => u >= uidNext && !(String(u) in box.messages));
    if (fresh.length === 0) return;
    for await (const msg of client.fetch(uidSet(fresh), { uid: true, flags: true, source: true }, { uid: true })) {
        box.messages[String(msg.uid)] = [flagList(msg.flags), storeBody(msg.source)];
    }
    const missing = fresh.filter((u) => !(String(u) in box.messages));
    if (missing.length) throw new Error(`FETCH did not return ${missing}`);
}

async function resync(client, index) {
    const names = (await client.list()).filter((b) => !b.flags.has('\\Noselect')).map((b) => b.path);
    for (const name of names) {
        const lock = await client.getMailboxLock(name);
        try {
            const mb = client.mailbox;
            const uidValidity = Number(mb.uidValidity);
            const modseq = Number(mb.highestModseq);
            let box = index[name];
            if (!box || box.uidValidity !== uidValidity) {
                box = { uidValidity, modseq: 0, uidNext: 1, messages: {} };
            } else if (mb.exists > 0) {
                for await (const msg of client.fetch('1:*', { uid: true, flags: true }, { uid: true, changedSince: BigInt(box.modseq) })) {
                    if (String(msg.uid) in box.messages) box.messages[String(msg.uid)][0] = flagList(msg.flags);
                }
            }
            const present = new Set(mb.exists > 0 ? await client.search({ all: true }, { uid: true }) : []);
            for (const uid of Object.keys(box.messages)) {
                if (!present.has(Number(uid))) delete box.messages[uid];
            }
            if (mb.exists > 0) await downloadNew(client, box, box.uidNext);
            box.modseq = modseq;
            box.uidNext = Number(mb.uidNext);
            index[name] = box;
        } finally {
            lock.release();
        }
    }
    for (const gone of Object.keys(index)) if (!names.includes(gone)) delete index[gone];
}

async function clientChanges(client, index) {
    const inbox = index.INBOX.messages;
    const archive = index.Archive.messages;
    const uids = Object.keys(inbox).map(Number).sort((a, b) => a - b);
    const pick = (r) => uids.filter((_, i) => i % 10 === r);
    const lock = await client.getMailboxLock('INBOX');
    try {
        await client.messageFlagsAdd(uidSet(pick(5)), ['\\Flagged'], { uid: true });
        for (const uid of pick(5)) inbox[uid][0] = [...new Set([...inbox[uid][0], '\\Flagged'])].sort();
        for (const uid of pick(6)) {
            const seen = inbox[uid][0].includes('\\Seen');
            if (seen) await client.messageFlagsRemove(String(uid), ['\\Seen'], { uid: true });
            else await client.messageFlagsAdd(String(uid), ['\\Seen'], { uid: true });
            inbox[uid][0] = seen ? inbox[uid][0].filter((f) => f !== '\\Seen') : [...inbox[uid][0], '\\Seen'].sort();
        }
        const moved = await client.messageMove(uidSet(pick(7)), 'Archive', { uid: true });
        if (!moved || !moved.uidMap || moved.uidMap.size !== pick(7).length) {
            throw new Error(`MOVE gave no full COPYUID map: ${JSON.stringify(moved)}`);
        }
        for (const [oldUid, newUid] of moved.uidMap) {
            archive[String(newUid)] = inbox[String(oldUid)];
            delete inbox[String(oldUid)];
        }
        if (!(await client.messageDelete(uidSet(pick(8)), { uid: true }))) throw new Error('delete failed');
        for (const uid of pick(8)) delete inbox[uid];
    } finally {
        lock.release();
    }
}

const client = new ImapFlow({
    host: '127.0.0.1',
    port: Number(port),
    secure: false,
    doSTARTTLS: false, // loopback; the server allows plain LOGIN there
    auth: { user, pass },
    logger: false,
    qresync: true, // ENABLE QRESYNC: expunges arrive as VANISHED while it moves and deletes
});
fs.mkdirSync(cacheDir, { recursive: true });
const index = fs.existsSync(indexPath) ? JSON.parse(fs.readFileSync(indexPath, 'utf8')) : {};
await client.connect();
if (phase === 'change') await clientChanges(client, index);
await resync(client, index);
await client.logout();
fs.writeFileSync(indexPath, JSON.stringify(index));
const out = {};
for (const name of Object.keys(index).sort()) {
    const messages = {};
    for (const uid of Object.keys(index[name].messages).sort()) {
        const [flags, file] = index[name].messages[uid];
        messages[uid] = [[...flags].sort(), digest(fs.readFileSync(path.join(cacheDir, file)))];
    }
    out[name] = messages;
}

console.log(JSON.stringify(out));
