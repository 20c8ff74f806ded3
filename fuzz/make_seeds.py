#!/usr/bin/env python3
"""Writes the small seed corpora of fuzz/seeds/<target>/ from the
repository's own test vectors and examples (run from the repository root:
python3 fuzz/make_seeds.py). The seeds are committed; this script only
says where they came from."""
import json, os, struct

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
out = os.path.join(root, "fuzz", "seeds")
rec = os.path.join(root, "spec", "test-vectors", "records", "valid")

def put(target, name, data):
    d = os.path.join(out, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)

entries = open(os.path.join(rec, "entries.bin"), "rb").read()
put("record", "valid-entries.bin", entries)
# Split entries.bin (u32 length ‖ entry) into entries; keep the first of each kind.
seen, at = {}, 0
while at + 4 <= len(entries):
    n = struct.unpack(">I", entries[at:at + 4])[0]
    e = entries[at + 4:at + 4 + n]
    at += 4 + n
    kind = e[1:3].hex()
    sub = e[8] if len(e) > 8 else 0
    key = (kind, sub if kind == "0400" else 0)
    if key not in seen:
        seen[key] = e
for (kind, sub), e in seen.items():
    put("entry", f"{kind}-{sub}.bin", e)
    payload = e[7:]
    if kind == "0201":
        put("ballot", "ballot.bin", payload)
    if kind == "0101":
        put("dkg", "ceremony-payload.bin", payload)
        put("dkg", "message.bin", payload[2:])
        # A trustee payload file (spec/trustee.md §T4) around it.
        put("trustee", "payloads.bin", b"URNA-PAY\x01" + struct.pack(">IHI", 1, 0x0101, len(payload)) + payload)
put("trustee", "empty.bin", b"URNA-PAY\x01" + struct.pack(">I", 0))
cp = open(os.path.join(rec, "checkpoint.txt"), "rb").read()
put("note", "checkpoint.txt", cp)
put("note", "board-key.txt", open(os.path.join(rec, "board-key.txt"), "rb").read())
put("tile", "hash-tile", b"tile/0/000.p/2\n" + bytes(64))
put("tile", "entries", b"tile/entries/x001/234.p/7\n")
put("tile", "level", b"tile/1/x123/456\n" + bytes(32))
manifest = open(os.path.join(root, "examples", "moscow-2020-constitution.toml"), "rb").read()
put("manifest", "moscow-2020.toml", manifest)
put("registry_csv", "rows.csv",
    b"voter_id,document,birth_date,precinct,phone,email,name\n"
    b"V0001,4510 123456,1980-01-02,p-001,+79161234567,a@example.org,Ivan Ivanov\n")
put("amendment", "short.bin", b"URNA-AMD\x01" + bytes(16))
for i, (body) in enumerate([
        b'{"ballot":"00"}', b'{"ballot":[1]}', b'{"key":"k","note":"n"}',
        b'{"district":"d","precinct":"p","credential":"00"}', b'{"message":"01"}',
        b'{"payloads":["01"]}', b'{}', b'[]']):
    put("http", f"body-{i}.json", bytes([i]) + body)
