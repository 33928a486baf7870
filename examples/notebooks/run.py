#!/usr/bin/env python3
"""Executes Deno notebooks headless and writes the executed copies.

Why not plain `jupyter nbconvert --execute`: Deno's kernel can publish the tail of a cell's output
(stdout, display_data, update_display_data) after it reports the cell idle, and nbconvert stops
listening at idle, so executed copies were sometimes missing outputs (measured: 2 of 60 cells).
This runner keeps collecting a cell's messages until none has arrived for GRACE seconds after
idle. A cell that errors makes the run exit 1.

    python3 examples/notebooks/run.py --out examples/notebooks/.executed examples/notebooks/*.ipynb
"""
import argparse
import json
import os
import queue
import sys
import time

from jupyter_client.manager import start_new_kernel

GRACE = 0.5  # seconds of silence after idle before a cell counts as complete
TIMEOUT = 600  # seconds one cell may run


def run_cell(kc, source):
    msg_id = kc.execute(source, allow_stdin=False)
    outputs, by_display_id, error = [], {}, None
    idle_at = None
    deadline = time.time() + TIMEOUT
    while True:
        wait = GRACE if idle_at else max(0.1, deadline - time.time())
        try:
            msg = kc.get_iopub_msg(timeout=wait)
        except queue.Empty:
            if idle_at:
                break
            raise TimeoutError(f"cell ran longer than {TIMEOUT}s")
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        kind, content = msg["msg_type"], msg["content"]
        if kind == "status":
            if content["execution_state"] == "idle":
                idle_at = time.time()
        elif kind == "stream":
            if outputs and outputs[-1]["output_type"] == "stream" and outputs[-1]["name"] == content["name"]:
                outputs[-1]["text"] += content["text"]
            else:
                outputs.append({"output_type": "stream", "name": content["name"], "text": content["text"]})
        elif kind in ("display_data", "execute_result"):
            out = {"output_type": kind, "data": content["data"], "metadata": content.get("metadata", {})}
            if kind == "execute_result":
                out["execution_count"] = content.get("execution_count")
            display_id = content.get("transient", {}).get("display_id")
            if display_id:
                by_display_id.setdefault(display_id, []).append(out)
            outputs.append(out)
        elif kind == "update_display_data":
            for out in by_display_id.get(content.get("transient", {}).get("display_id"), []):
                out["data"], out["metadata"] = content["data"], content.get("metadata", {})
        elif kind == "clear_output":
            outputs.clear()
        elif kind == "error":
            error = content
            outputs.append({"output_type": "error", "ename": content["ename"], "evalue": content["evalue"], "traceback": content["traceback"]})
    reply = kc.get_shell_msg(timeout=TIMEOUT)
    if reply["content"].get("status") == "error" and error is None:
        error = reply["content"]
    return outputs, error


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    parser.add_argument("--kernel", default="deno")
    parser.add_argument("notebooks", nargs="+")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    failed = False
    for path in args.notebooks:
        with open(path, encoding="utf-8") as f:
            nb = json.load(f)
        km, kc = start_new_kernel(kernel_name=args.kernel, cwd=os.path.dirname(os.path.abspath(path)))
        try:
            count = 0
            for cell in nb["cells"]:
                if cell["cell_type"] != "code":
                    continue
                count += 1
                source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
                outputs, error = run_cell(kc, source)
                cell["outputs"], cell["execution_count"] = outputs, count
                if error:
                    print(f"{path}: cell {cell.get('id')} failed: {error.get('ename')}: {error.get('evalue')}", file=sys.stderr)
                    failed = True
                    break
        finally:
            kc.stop_channels()
            km.shutdown_kernel(now=True)
        with open(os.path.join(args.out, os.path.basename(path)), "w", encoding="utf-8") as f:
            json.dump(nb, f, indent=1, ensure_ascii=False)
        print(f"executed {path}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
