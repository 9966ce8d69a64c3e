"""The burst phase's delivery and its memory readings (the phase itself runs in `make bench`)."""

from __future__ import annotations

import json
import os

from bench import burst_phase


def test_one_delivery_carries_every_company_each_from_a_new_sender():
    body = burst_phase.delivery(40, offset=70_000_000, prefix="BURSTX")

    value = json.loads(body)["entry"][0]["changes"][0]["value"]
    senders = [message["from"] for message in value["messages"]]
    assert len(senders) == len(set(senders)) == 40
    assert [contact["wa_id"] for contact in value["contacts"]] == senders
    assert len({message["id"] for message in value["messages"]}) == 40
    assert burst_phase.recipients(40, offset=70_000_000) == {f"+{sender}" for sender in senders}


def test_memory_is_read_from_proc_and_a_gone_process_reads_zero():
    assert burst_phase.status_kb(os.getpid(), "VmRSS") > 0
    assert burst_phase.status_kb(os.getpid(), "VmHWM") >= burst_phase.status_kb(os.getpid(), "VmRSS") // 2
    assert burst_phase.status_kb(2**22 + 12345, "VmRSS") == 0
