"""Multi-turn dialogue generation: each instruction becomes a dialogue of 1-4 rounds, one LLM role playing both
the assistant (answers) and the user (follow-ups). Batch-native: round r of every dialogue is generated together.

A dialogue stops early, keeping its complete rounds, when a follow-up cannot be parsed or a later answer is cut
or refused; when the first answer is cut or refused, the item is rejected (answer_cut / answer_refused).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from tools.evolution import AnswerTask, FollowupItem, FollowupTask, answer_problem


@dataclass
class Dialogue:
    messages: list[dict[str, str]]
    rounds_wanted: int
    lang: str
    rejected: str = ""  # answer_cut | answer_refused when round 1 failed
    stopped: str = ""  # why it ended before rounds_wanted
    notes: list[str] = field(default_factory=list)

    @property
    def rounds(self) -> int:
        return sum(m["role"] == "assistant" for m in self.messages)

    @property
    def open(self) -> bool:
        return not self.rejected and not self.stopped


def build_dialogues(llm, role: str, instructions: list[str], rounds: list[int], langs: list[str],
                    answer_max_tokens: int) -> list[Dialogue]:
    dialogues = [Dialogue([{"role": "user", "content": text}], n, lang)
                 for text, n, lang in zip(instructions, rounds, langs)]
    answer, follow_up = AnswerTask(role, answer_max_tokens), FollowupTask(role)
    for r in range(1, 5):
        asking = [d for d in dialogues if d.open and d.messages[-1]["role"] == "user"]
        if not asking:
            break
        answers = llm.run(answer, [d.messages for d in asking])
        for d, a in zip(asking, answers):
            problem = answer_problem(a.value if a.ok else None, a.error)
            if problem:
                if r == 1:
                    d.rejected = problem
                else:
                    d.messages.pop()  # drop the follow-up that got no usable answer
                    d.stopped = problem
                continue
            d.messages.append({"role": "assistant", "content": a.value.strip()})
            if d.rounds >= d.rounds_wanted:
                d.stopped = "done"
        following = [d for d in dialogues if d.open]
        if not following:
            break
        replies = llm.run(follow_up, [FollowupItem(d.messages, d.lang, [m["content"] for m in d.messages
                                                                        if m["role"] == "user"]) for d in following])
        for d, f in zip(following, replies):
            if f.ok:
                d.messages.append({"role": "user", "content": f.value})
            else:
                d.stopped = "follow_up_rejected"
                d.notes.append(f.error[:200])
    return dialogues
