"""The scripted LLM the graph tests answer with, and their pool file (shared by the in-process graph tests and the
kill-and-resume test, which runs `iloop run` in a child process against the same script)."""
import json
import re
import zlib

from tests.conftest import chat, write_jsonl

TOPICS = {"python": (["python programming", "debugging"], ["Python编程", "调试"]),
          "cook": (["cooking", "recipe writing"], ["烹饪", "食谱写作"]),
          "poem": (["poetry composition", "rhyme"], ["诗歌创作", "押韵"])}


def fake_llm(body, task):
    """Answers by task name (the X-Iloop-Task header), so editing a prompt's wording cannot break the graph test."""
    user = body["messages"][-1]["content"]
    if task == "answer":  # a dialogue: the model answers as the assistant
        return f"A worked answer to: {user[:40]}"
    if task == "evolve":
        seed = re.findall(r"<<<\n(.*?)\n>>>", user, re.S)[-1]
        return json.dumps({"instruction": f"{seed} Explain every step, compare two approaches and give an example."})
    if task == "judge_evolution":
        return json.dumps({"is_instruction": True, "answerable": True, "evolved": True, "reason": "adds steps"})
    if task == "dialogue_followup":
        return json.dumps({"message": f"Could you apply that to a harder case? ({len(user)})"})
    if task == "tag":
        for key, (en, zh) in TOPICS.items():
            if key in user.lower():
                return json.dumps({"en": en, "zh": zh}, ensure_ascii=False)
        return json.dumps({"en": ["general explanation", "reasoning"], "zh": ["一般解释", "推理"]}, ensure_ascii=False)
    if task == "oracle_diagnose":  # every answer is found lacking the same two skills
        return json.dumps({"deficient": True, "missing_skills": ["step-by-step explanation", "worked examples"],
                           "description": "The answer skips the steps.", "severity": 2})
    if task == "synthesize":
        skill = re.search(r"^Skill: (.+)$", user, re.M).group(1)
        n = int(re.search(r"Write (\d+) new", user).group(1))
        examples = re.findall(r"<<<\n(.*?)\n>>>", user, re.S)  # new examples each round, new items
        tag = zlib.crc32(examples[0].encode())  # naming the example, not pasting it (a pasted item is a near-copy)
        return json.dumps({"instructions": [f"Teach {skill} with a fresh exercise like example {tag}, "
                                            f"variant {k}, and check each step carefully." for k in range(n)]})
    if task == "rate_difficulty":  # longer queries are harder: an evolution is rated above its seed
        query = re.findall(r"<<<\n(.*?)\n>>>", user, re.S)[-1]
        return json.dumps({"intent": "x", "knowledge": "y",
                           "difficulty": ["very easy", "easy", "medium", "hard", "very hard"][min(4, len(query) // 40)]})
    if task == "judge_synthesis":
        return json.dumps({"is_instruction": True, "answerable": True, "exercises_skill": True, "reason": "fits"})
    if task == "induce_domains":
        return json.dumps({"domains": [{"name": "software development", "description": "Code."},
                                       {"name": "home and food", "description": "Cooking."},
                                       {"name": "creative writing", "description": "Poems."}]})
    if task == "map_tags":
        tags = re.findall(r"^- (.+)$", user, re.M)
        pick = lambda t: ("software development" if re.search("python|debug", t) else
                          "home and food" if re.search("cook|recipe|烹饪|食谱", t) else "creative writing")
        return json.dumps({t: pick(t) for t in tags})
    raise AssertionError(f"unexpected task {task!r}")


def pool_file(tmp_path, n=24, leaks=6):
    """n clean items over four topics, then ``leaks`` that copy AlpacaEval's "Please tell me the history of Walt
    Disney." """
    topics = ["python script fails with an index error", "cook a risotto for four", "write a poem about rain",
              "explain how ocean tides form"]
    return write_jsonl(tmp_path / "pool.jsonl", [chat(f"{topics[k % 4]} (case {k})") for k in range(n)]
                       + [chat(f"Please tell me the history of Walt Disney. (case {k})") for k in range(leaks)])


