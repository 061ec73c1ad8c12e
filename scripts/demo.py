"""`make demo`: Forkline end to end on embedded defaults, with no account, no keys, no network.

It starts the Twilio simulator and the Forkline server (the Procfile's gunicorn + gevent shape)
on free local ports, creates a tenant, and then, through the admin API: a conference of two
simulated callers; the AI (the offline local agent) in speak mode, which answers the customer's
spoken questions out loud; a supervisor who listens, then whispers to the agent. It prints a
live timeline and writes the recordings, the transcript and a summary into demo_output/.
"""
from __future__ import annotations

import argparse
import secrets
import signal
import sys
import tempfile
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repo root, for its packages

import requests  # noqa: E402
from demo_api import AdminApi, DemoError  # noqa: E402
from demo_report import Report  # noqa: E402
from demo_scenario import Scenario  # noqa: E402
from demo_stack import ROOT, Stack, free_port  # noqa: E402
from demo_timeline import Timeline  # noqa: E402


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(prog="scripts/demo.py", description=__doc__.split("\n")[0])
    parser.add_argument("--output", type=Path, default=ROOT / "demo_output",
                        help="where recordings, transcript and summary go (default demo_output/)")
    parser.add_argument("--fast", action="store_true",
                        help="run the simulator's clock 2x faster (shorter wall-clock run)")
    parser.add_argument("--server", choices=("gunicorn", "python"), default="gunicorn",
                        help="gunicorn -k gevent as in the Procfile (default), or python app.py")
    parser.add_argument("--quiet", action="store_true",
                        help="print steps and the summary only, not every timeline line")
    parser.add_argument("--timeout", type=float, default=30.0,
                        help="seconds to wait for any one step before giving up")
    parser.add_argument("--database-url", default=None,
                        help="use this database instead of a throwaway SQLite file")
    parser.add_argument("--keep-workdir", action="store_true",
                        help="keep the temporary database and server logs")
    return parser.parse_args(argv)


def _terminate(signum, _frame):
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    """Run the demo; 0 on success, 1 when a step failed, 130 when interrupted."""
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    started = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="forkline-demo-"))
    stack = Stack(workdir, clock_rate=2.0 if args.fast else 1.0, server=args.server,
                  database_url=args.database_url)
    timeline = Timeline(None, quiet=args.quiet)
    code = 1
    try:
        report = run(args, stack, timeline)
        print_summary(report, time.monotonic() - started)
        code = 0
    except Exception as exc:  # any failure: say what, show the servers' last words, clean up
        if not isinstance(exc, (DemoError, requests.RequestException)):
            traceback.print_exc()
        timeline.add("error", f"{type(exc).__name__}: {exc}")
        for name in ("forkline", "twilio_sim"):
            tail = stack.log_tail(name)
            if tail:
                print(f"\n--- last lines of {name}.log ---\n{tail}", file=sys.stderr)
    except KeyboardInterrupt:
        print("\ninterrupted; shutting down", file=sys.stderr)
        code = 130
    finally:
        timeline.stop()
        stack.stop()
        left = stack.alive()
        alive = f" (still alive: {', '.join(left)})" if left else ""
        print(f"stopped the simulator and the server{alive}; "
              f"{time.monotonic() - started:.1f}s in total")
        if args.keep_workdir or code == 1:
            print(f"work directory kept: {workdir}")
        else:
            import shutil

            shutil.rmtree(workdir, ignore_errors=True)
    return code


def run(args: argparse.Namespace, stack: Stack, timeline: Timeline) -> Report:
    """Start everything, play the story, write the outputs."""
    from twilio_sim.testing import SimControl, sdk_client

    add = timeline.add
    add("step", f"starting the Twilio simulator (clock x{stack.clock_rate:g})")
    sim_url = stack.start_sim()
    add("ready", f"simulator at {sim_url} (pid {stack.procs['twilio_sim'].pid})")
    port = free_port()
    forkline_url = f"http://127.0.0.1:{port}"
    client = sdk_client(sim_url, stack.account_sid, stack.auth_token)
    app = client.applications.create(friendly_name="Forkline demo AI",
                                     voice_url=forkline_url + "/twilio/ai/voice",
                                     voice_method="POST")
    add("ready", f"TwiML App {app.sid} → {app.voice_url} (created with the twilio SDK)")
    stack.flask("db", "upgrade")
    api_key = stack.flask("tenants", "create", "demo", "--recording").strip().splitlines()[-1]
    add("ready", "SQLite database migrated; tenant 'demo' created (recording opt-in)")
    add("step", f"starting Forkline ({stack.server_kind})")
    stack.start_forkline(app.sid, port)
    add("ready", f"Forkline at {forkline_url} (pid {stack.procs['forkline'].pid})")
    api = AdminApi(forkline_url, api_key)
    timeline.api = api
    sim = SimControl(sim_url)
    name = "demo-" + secrets.token_hex(3)
    story = Scenario(api, sim, timeline, name, args.timeout).run()
    timeline.stop()
    add("step", f"writing recordings and transcript to {args.output}")
    report = Report(args.output, story)
    report.collect_phones(sim)
    report.collect_forkline(stack.recordings_dir)
    report.collect_transcript(api)
    report.measure_turns()
    report.measure_supervisor()
    report.measure_barge_in()
    report.measure_ai_whisper()
    report.finish(timeline.entries, {"ai_joined": story.ai_joined,
                                     "server": stack.server_kind,
                                     "clock_rate": stack.clock_rate,
                                     "pids": {k: p.pid for k, p in stack.procs.items()},
                                     "workdir": str(stack.workdir),
                                     "participants": api.get(f"/api/conferences/{name}")
                                     ["participants"]})
    return report


def print_summary(report: Report, elapsed_s: float) -> None:
    """The final, human-readable summary."""
    s = report.summary
    print("\n=== Forkline demo summary ===")
    print(f"conference     {s['conference']}  ({elapsed_s:.1f}s wall clock so far)")
    for turn in s["turns"]:
        latency = turn.get("first_audio_ms")
        print(f"customer asked “{turn['question']}”")
        cut_off = " (cut off by her barge-in)" if turn.get("interrupted") else ""
        print(f"  AI reply heard by the customer (offline STT): “{turn.get('customer_heard', '')}”"
              + cut_off)
        shown = f"{latency} ms" if latency is not None else "n/a"
        if s["clock_rate"] != 1:  # measured on the recordings: simulated time
            shown += f" of simulated time (clock x{s['clock_rate']:g})"
        print(f"  first-audio latency (end of question → first AI audio): {shown}")
    barge = s.get("barge_in")
    if barge:
        stopped = barge.get("ai_stopped_after_ms")
        print(f"customer talked over the AI (“{barge['interruption']}”): the AI's voice stopped "
              f"{stopped if stopped is not None else '?'} ms after she started; it replied "
              f"“{barge.get('customer_heard', '')}”")
    if s.get("ai_said"):
        print("AI transcript  " + " | ".join(s["ai_said"]))
    for mode, heard in s["supervisor"]["heard_dbfs"].items():
        print(f"supervisor {mode:<8} heard by customer {heard['customer']} dBFS, "
              f"agent {heard['agent']} dBFS")
    if s.get("ai_whisper"):
        heard = s["ai_whisper"]["heard_dbfs"]
        print(f"AI whispering heard by customer {heard['customer']} dBFS, "
              f"agent {heard['agent']} dBFS")
    print("files written:")
    for path in s["files"]:
        print(f"  {Path(path).relative_to(ROOT) if Path(path).is_relative_to(ROOT) else path}")
    sys.stdout.flush()


if __name__ == "__main__":
    sys.exit(main())
