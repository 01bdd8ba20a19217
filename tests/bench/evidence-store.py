#!/usr/bin/env python3
"""Generate a collector store for the evidence-export memory measurement (docs/evidence.md).

Usage: evidence-store.py DB HOSTS DAYS  (e.g. 200 30, then 200 300). Applies the migrations
of collector/src/store/migrations.rs, then one transition per host per check per day."""
import re, sqlite3, sys, os, datetime
src=open(os.path.join(os.path.dirname(os.path.abspath(__file__)), '../../collector/src/store/migrations.rs')).read()
migs=re.findall(r'r#"(.*?)"#', src, re.S)
path, hosts, days = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
if os.path.exists(path): os.remove(path)
c=sqlite3.connect(path)
for i,m in enumerate(migs):
    c.executescript(m); c.execute(f"PRAGMA user_version={i+1}")
checks=["inventory","disk_encryption","password_policy","mfa","patch_age","backup_freshness"]
start=datetime.datetime(2025,1,1,tzinfo=datetime.timezone.utc)
t0=int(start.timestamp())
c.execute("BEGIN")
for h in range(1,hosts+1):
    c.execute("INSERT INTO hosts(id,machine_id,hostname,node_key_hash,enrolled_at,last_seen_at) VALUES (?,?,?,?,?,?)",(h,f"m{h}",f"host-{h:05d}",h.to_bytes(4,'big'),t0,t0+days*86400))
for d in range(days):
    day=(start+datetime.timedelta(days=d)).strftime("%Y-%m-%d")
    for ci,ch in enumerate(checks):
        sha=f"{d:08x}{ci:056x}"
        c.execute("INSERT INTO evidence VALUES (?,?,?,?)",(sha,"command","apt-get -s upgrade","x"*1500))
    rows=[]
    for h in range(1,hosts+1):
        c.execute("INSERT INTO daily VALUES (?,?,?,?,?)",(h,day,24,t0+d*86400,t0+d*86400+3600))
        for ci,ch in enumerate(checks):
            frm=None if d==0 else ("pass" if (d-1)%2==0 else "fail")
            to="pass" if d%2==0 else "fail"
            sha=f"{d:08x}{ci:056x}"
            rows.append((h,ch,frm,to,t0+d*86400+h,f"r{d}-{h}",f"{ch} summary for day {d} "+"y"*100,f'["{sha}"]'))
    c.executemany("INSERT INTO transitions(host_id,check_name,from_status,to_status,at,report_id,summary,evidence) VALUES (?,?,?,?,?,?,?,?)",rows)
c.execute("COMMIT")
c.close()
