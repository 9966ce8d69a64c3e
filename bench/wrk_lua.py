"""The Lua script wrk runs, and the file of pre-signed bodies it replays.

wrk's Lua has no HMAC, and signing in the load generator would cost it CPU the server needs:
the bench signs every body beforehand (bench/payloads.py) and writes them to a body file, one
record per request: a line `SIGNATURE LENGTH`, the body's LENGTH bytes, a newline. Each wrk
thread reads the file once at start and keeps every record whose index modulo the thread count
is its own, pre-formatted as a whole HTTP request, so `request()` only hands out a string and
two threads never send the same body. A thread that used up its share starts over and counts
the repeats (`repeats` in the summary line): a repeated message id is deduplicated by the
webhook and cheaper, so the harness sizes the file so that this does not happen, and the
report flags a run where it did.

With a rate, `delay()` paces each thread's connections to a shared schedule (an open loop):
thread t of T sends at start + t/R + k*T/R. A connection that is ready waits for the next free
slot; when every connection is still waiting for an answer at a slot, that request goes out late,
as soon as one comes back, and its latency is counted from then, not from its slot (coordinated
omission). The script counts those late sends and their lag (`late`, `lag_max_ms`), so a run
whose schedule slipped says so.

`done()` prints one line `gk-bench: {json}` after wrk's own report: requests handed out, repeats,
late sends, lag.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

#: The line `done()` prints after wrk's report; bench.wrk_output reads it back.
SUMMARY_PREFIX = "gk-bench: "


def write_bodies(path: Path, records: Iterable[tuple[str | None, bytes]]) -> int:
    """Write (signature, body) records for the script to replay; returns how many."""
    count = 0
    with path.open("wb") as handle:
        for signature, body in records:
            handle.write(f"{signature or '-'} {len(body)}\n".encode())
            handle.write(body)
            handle.write(b"\n")
            count += 1
    return count


def lua_string(value: str) -> str:
    """A Lua string literal for `value` (escapes quotes, backslashes and control characters)."""
    out = []
    for char in value:
        if char in ('"', "\\"):
            out.append("\\" + char)
        elif ord(char) < 32 or ord(char) == 127:
            out.append(f"\\{ord(char):03d}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def script(
    *,
    bodies: Path,
    path: str,
    threads: int,
    rate: float = 0.0,
    method: str = "POST",
    content_type: str = "application/json",
    signature_header: str = "X-Hub-Signature-256",
) -> str:
    """The Lua source for one wrk run: replay `bodies` to `path`; open loop at `rate` requests/s if given."""
    if threads < 1:
        raise ValueError("threads must be at least 1")
    if rate < 0:
        raise ValueError("rate must be positive, or 0 for a closed loop")
    parts = [
        "-- Written by bench/wrk_lua.py for one run; see its docstring.",
        f"local BODIES = {lua_string(str(bodies))}",
        f"local PATH = {lua_string(path)}",
        f"local METHOD = {lua_string(method)}",
        f"local CONTENT_TYPE = {lua_string(content_type)}",
        f"local SIGNATURE_HEADER = {lua_string(signature_header)}",
        f"local THREADS = {int(threads)}",
        f"local RATE = {float(rate)!r}",
        _COMMON,
    ]
    if rate:
        parts.append(_PACING)
    parts.append(_DONE)
    return "\n".join(parts)


_COMMON = r"""
local threads = {}
local created = 0

function setup(thread)
  thread:set("thread_index", created)
  created = created + 1
  table.insert(threads, thread)
end

local pool = {}
local cursor = 0
sent = 0
repeats = 0

function init(args)
  local file = assert(io.open(BODIES, "rb"))
  local index = 0
  while true do
    local head = file:read("*l")
    if not head then break end
    local signature, length = head:match("^(%S+) (%d+)$")
    assert(signature, "bad record header: " .. head)
    local body = file:read(tonumber(length))
    file:read(1)
    if index % THREADS == thread_index then
      local headers = {["Content-Type"] = CONTENT_TYPE}
      if signature ~= "-" then headers[SIGNATURE_HEADER] = signature end
      pool[#pool + 1] = wrk.format(METHOD, PATH, headers, body)
    end
    index = index + 1
  end
  file:close()
  assert(#pool > 0, "no bodies for thread " .. thread_index)
end

function request()
  sent = sent + 1
  cursor = cursor + 1
  if cursor > #pool then
    cursor = 1
  end
  if sent > #pool then
    repeats = repeats + 1
  end
  return pool[cursor]
end
"""

_PACING = r"""
local ffi = require("ffi")
ffi.cdef[[
  typedef struct { long tv_sec; long tv_nsec; } gk_timespec;
  int clock_gettime(int clock_id, gk_timespec *tp);
]]
local clock = ffi.new("gk_timespec")
local function now_ms()
  ffi.C.clock_gettime(1, clock)  -- CLOCK_MONOTONIC
  return tonumber(clock.tv_sec) * 1000 + tonumber(clock.tv_nsec) / 1e6
end

local interval = 1000 * THREADS / RATE
local next_slot = nil
late = 0
lag_max_ms = 0
lag_total_ms = 0

function delay()
  local now = now_ms()
  if next_slot == nil then
    next_slot = now + thread_index * 1000 / RATE
  end
  local slot = next_slot
  next_slot = slot + interval
  local wait = slot - now
  if wait < -1 then
    late = late + 1
    lag_total_ms = lag_total_ms - wait
    if -wait > lag_max_ms then lag_max_ms = -wait end
  end
  if wait < 0 then return 0 end
  return wait
end
"""

_DONE = r"""
function done(summary, latency, requests)
  local handed, repeated, late_sends, lag_max, lag_total = 0, 0, 0, 0, 0
  for _, thread in ipairs(threads) do
    handed = handed + (thread:get("sent") or 0)
    repeated = repeated + (thread:get("repeats") or 0)
    late_sends = late_sends + (thread:get("late") or 0)
    lag_total = lag_total + (thread:get("lag_total_ms") or 0)
    local thread_lag = thread:get("lag_max_ms") or 0
    if thread_lag > lag_max then lag_max = thread_lag end
  end
  io.write(string.format(
    'gk-bench: {"handed_out": %d, "repeats": %d, "rate": %.3f, "late": %d, "lag_max_ms": %.1f, "lag_total_ms": %.1f}\n',
    handed, repeated, RATE, late_sends, lag_max, lag_total))
end
"""
