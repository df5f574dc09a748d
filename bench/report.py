#!/usr/bin/env python3
"""report.py RESULTS_DIR — the markdown tables of one bench/run.sh run.

Reads RESULTS_DIR/<server>-<workload>.jsonl (the JSON lines of the shared
bench.sh) and RESULTS_DIR/status.tsv (one line per server x workload x
concurrency block that run.sh attempted: how it ended).  Prints:

  1. the comparison: delivered msg/s (median of the runs, min-max), server CPU
     ms per message, peak PSS, and for our server the ratios to OpenSMTPD and
     to Postfix (ratio of medians measured in the same run);
  2. the issue's goals for our server, each checked;
  3. details: accepted msg/s, listen overflows, processes, all delivered.

'other load %' is what the rest of the machine used during the runs (busy
CPU minus server, client and bench.py's sampler), as % of all CPUs, median
per run — the same formula as the shared summarize.py.  A high value means
other work competed with the measurement.
"""
import json
import os
import statistics
import sys

SERVERS = ("ours", "opensmtpd", "postfix")
NAMES = {"ours": "ours", "opensmtpd": "OpenSMTPD (tuned)", "postfix": "Postfix"}


def load(results):
    """{(server, workload, conc): {"summary": {...}, "runs": [...]}}"""
    data = {}
    for fn in sorted(os.listdir(results)):
        if not fn.endswith(".jsonl"):
            continue
        server, _, workload = fn[:-6].partition("-")
        with open(os.path.join(results, fn)) as f:
            for line in f:
                line = line.strip()
                if not line.startswith("{"):
                    continue
                o = json.loads(line)
                key = (server, workload, o["concurrency"])
                cell = data.setdefault(key, {"summary": None, "runs": []})
                if o["type"] == "run":
                    cell["runs"].append(o)
                else:
                    cell["summary"] = o
    return data


def load_status(results):
    """{(server, workload, conc): status} from status.tsv, in attempt order."""
    status, order = {}, []
    try:
        with open(os.path.join(results, "status.tsv")) as f:
            for line in f:
                parts = line.rstrip("\n").split("\t")
                if len(parts) >= 4:
                    key = (parts[0], parts[1], int(parts[2]))
                    status[key] = parts[3]
                    order.append(key)
    except FileNotFoundError:
        pass
    return status, order


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def other_load_pct(runs):
    pct = []
    for r in runs:
        if not r.get("wall_s"):
            continue
        other = (r["machine_busy_cpu_s"] - (r["server_cpu_s"] or 0) - r["client_cpu_s"]
                 - r.get("bench_cpu_s", 0))
        pct.append(other / (r["wall_s"] * r["machine_cpus"]) * 100)
    return median(pct)


def mps(cell):
    """Median delivered msg/s, only if every message of every run arrived."""
    if not cell or not cell["summary"]:
        return None
    s = cell["summary"]
    return s["deliver_mps_median"] if s["all_delivered"] else None


def fmt_mps(cell, status):
    if not cell or not cell["summary"]:
        return status or "-"
    s = cell["summary"]
    med, lo, hi = s["deliver_mps_median"], s["deliver_mps_min"], s["deliver_mps_max"]
    if med is None:
        return f"none delivered ({status})" if status else "none delivered"
    text = f"{med:.0f} ({lo:.0f}-{hi:.0f})"
    if not s["all_delivered"]:
        text += " NOT all delivered"
    if status and status != "ok":
        text += f" [{status}]"
    return text


def fmt(v, spec=".0f", dash="-"):
    return dash if v is None else format(v, spec)


def ratio(a, b):
    return a / b if a and b else None


def main():
    results = sys.argv[1]
    data = load(results)
    status, order = load_status(results)
    keys = list(dict.fromkeys(order + sorted(data)))
    blocks = sorted({(k[1], k[2]) for k in keys}, key=lambda b: (b[0] != "maildir", b[0], b[1]))

    print("| workload | sessions | server | delivered msg/s median (min-max) | server CPU ms/msg "
          "| peak PSS MB | ours / OpenSMTPD | ours / Postfix | other load % |")
    print("|---|---|---|---|---|---|---|---|---|")
    for wl, conc in blocks:
        for server in SERVERS:
            key = (server, wl, conc)
            if key not in data and key not in status:
                continue
            cell = data.get(key)
            runs = cell["runs"] if cell else []
            cpu = median([r.get("server_cpu_ms_per_msg") for r in runs])
            pss = max((r.get("peak_pss_kb") or 0 for r in runs), default=0) / 1024 if runs else None
            r_os = r_pf = "-"
            if server == "ours":
                mine = mps(cell)
                r_os = fmt(ratio(mine, mps(data.get(("opensmtpd", wl, conc)))), ".2f")
                r_pf = fmt(ratio(mine, mps(data.get(("postfix", wl, conc)))), ".2f")
            print(f"| {wl} | {conc} | {NAMES[server]} | {fmt_mps(cell, status.get(key))} | "
                  f"{fmt(cpu, '.2f')} | {fmt(pss)} | {r_os} | {r_pf} | {fmt(other_load_pct(runs))} |")

    ours = {k: v for k, v in data.items() if k[0] == "ours"}
    if not ours and any(k[0] == "ours" for k in keys):
        why = sorted({status[k] for k in keys if k[0] == "ours" and k in status})
        print()
        print(f"Our server: no figures ({', '.join(why) or 'no data'}).")
    if ours:
        print()
        print("Goals of issue 7 for our server (ratios of medians measured in this run):")
        print()
        print("| goal | measured | met |")
        print("|---|---|---|")
        for wl in sorted({k[1] for k in keys if k[0] == "ours"}):
            for conc in (20, 100):
                mine = mps(ours.get(("ours", wl, conc)))
                for peer, want in (("opensmtpd", 2.0), ("postfix", 1.5)):
                    theirs = mps(data.get((peer, wl, conc)))
                    if theirs is None:
                        continue
                    r = ratio(mine, theirs)
                    print(f"| {wl} {conc} sessions: >= {want}x {NAMES[peer]} | {fmt(r, '.2f')}x | "
                          f"{'yes' if r and r >= want else 'no'} |")
            best = {c: mps(ours.get(("ours", wl, c))) for c in (1, 20, 100)}
            if best.get(100) and all(best.values()):
                top = max(best.values())
                print(f"| {wl}: no cliff (100 sessions within 10% of the best) | "
                      f"{best[100] / top * 100:.0f}% of {top:.0f} msg/s | "
                      f"{'yes' if best[100] >= 0.9 * top else 'no'} |")
            cpus = [median([r.get("server_cpu_ms_per_msg") for r in v["runs"]])
                    for k, v in ours.items() if k[1] == wl]
            cpus = [c for c in cpus if c is not None]
            if cpus:
                print(f"| {wl}: server CPU <= 1 ms/msg | {min(cpus):.2f}-{max(cpus):.2f} ms | "
                      f"{'yes' if max(cpus) <= 1.0 else 'no'} |")
            c100 = ours.get(("ours", wl, 100))
            if c100 and c100["runs"]:
                pss = max(r.get("peak_pss_kb") or 0 for r in c100["runs"]) / 1024
                print(f"| {wl}: PSS <= 32 MB at 100 sessions | {pss:.0f} MB | {'yes' if pss <= 32 else 'no'} |")

    print()
    print("Details:")
    print()
    print("| workload | sessions | server | runs | msgs/run | accepted msg/s median | drain after accept s "
          "| peak procs | listen overflows | all delivered | status |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for wl, conc in blocks:
        for server in SERVERS:
            key = (server, wl, conc)
            if key not in data and key not in status:
                continue
            cell = data.get(key) or {"summary": None, "runs": []}
            s, runs = cell["summary"], cell["runs"]
            print(f"| {wl} | {conc} | {NAMES[server]} | {len(runs)} | {s['msgs'] if s else '-'} | "
                  f"{fmt(s['accept_mps_median'] if s else None)} | "
                  f"{fmt(median([r.get('drain_after_accept_s') for r in runs]), '.2f')} | "
                  f"{max((r.get('peak_procs') or 0 for r in runs), default='-')} | "
                  f"{s['listen_overflows_total'] if s else '-'} | {s['all_delivered'] if s else '-'} | "
                  f"{status.get(key, '-')} |")


if __name__ == "__main__":
    main()
