"""M_FT's generation path on the real SmolLM2-135M: prompts cut to their budget, greedy batched answers."""
from settings import DiagnosisSettings
from tools.loss_scorer import LossScorer
from tools.mft_answer import MFTAnswerer, query_of


def test_query_and_reference_are_split_at_the_first_answer():
    msgs = [{"role": "system", "content": "s"}, {"role": "user", "content": "q"}, {"role": "assistant", "content": "a"},
            {"role": "user", "content": "q2"}, {"role": "assistant", "content": "a2"}]
    assert query_of(msgs) == (msgs[:2], "a")


def test_answers_are_greedy_batched_and_bounded(smol_folder, config):
    scorer = LossScorer(smol_folder, config.scoring, device="cpu")
    s = DiagnosisSettings(answer_max_tokens=16, answer_batch=2, prompt_max_tokens=64)
    answerer = MFTAnswerer(scorer, s)
    long = [{"role": "user", "content": "Explain photosynthesis. " * 100}]
    assert len(answerer._prompt_ids(long)) <= 64 + 8  # the start of the turn kept, the template's frame around it
    queries = [[{"role": "user", "content": "What is 2 + 2?"}], long, [{"role": "user", "content": "Name a colour."}]]
    first = answerer.answer(queries)
    assert len(first) == 3 and all(a.tokens <= 16 for a in first) and any(a.text for a in first)
    assert all(a.truncated == (a.tokens == 16) for a in first)
    assert [a.text for a in answerer.answer(queries)] == [a.text for a in first]  # greedy: the same answers
    assert answerer.tokens_per_s > 0
