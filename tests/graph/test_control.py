"""graph/control.py's log view: what the Run page shows of a run's log."""
from graph.control import screen_lines, tail


def test_a_progress_bar_keeps_its_last_state_and_escape_codes_go():
    # what tqdm writes to a file: nested bars move the cursor up (ESC [A) and redraw with carriage returns
    log = ("ingest files=2\n"
           "tag:   0%|          | 0/8 [00:00<?, ?conv/s]\n"
           "tag:  12%|█         | 1/8 [00:14<01:38, 14.11s/call]\x1b[A\n"
           "tag:  25%|██        | 2/8 [00:18<00:49,  8.33s/call]\x1b[A\r\n"
           "\r   \x1b[A\r"
           "tag: 100%|██████████| 8/8 [01:02<00:00,  7.79s/conv]\n"
           "tagger tagged=7\n"
           "evolve:  50%|█████     | 1/2 [00:09<00:09]\revolve: 100%|██████████| 2/2 [00:18<00:00]\n")
    assert screen_lines(log) == ["ingest files=2", "tag: 100%|██████████| 8/8 [01:02<00:00,  7.79s/conv]",
                                 "tagger tagged=7", "evolve: 100%|██████████| 2/2 [00:18<00:00]"]


def test_plain_lines_that_look_alike_are_all_kept(tmp_path):
    log = tmp_path / "run.log"
    log.write_text("".join(f"round {i}: 12 seeds\n" for i in range(50)), encoding="utf-8")
    assert tail(log, 3).splitlines() == ["round 47: 12 seeds", "round 48: 12 seeds", "round 49: 12 seeds"]
    assert tail(tmp_path / "missing.log") == "" and tail(None) == ""
