"""A Hugging Face `tokenizer.json` read with the `tokenizers` library alone.

Gemma 3's tokenizer has 262k words and 515k merges. Transformers' tokenizer class keeps
~265 MB of it resident (measured with /proc/self/status after `malloc_trim`), the
`tokenizers` object it wraps ~100 MB; a planner needs neither the wrapper's chat templates
nor its batching, only `encode`, `decode` and the special tokens' ids. `LeanTokenizer` is
that subset over the same `tokenizers.Tokenizer`, so its ids are the wrapper's
(tests/model/test_tokenizer.py compares them on every prompt piece the planner writes).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

TOKENIZER_FILE = "tokenizer.json"
TOKENIZER_CONFIG_FILE = "tokenizer_config.json"


class LeanTokenizer:
    """`encode` / `decode` and the special tokens of a saved Hugging Face tokenizer.

    Args:
        path: a directory with `tokenizer.json` and `tokenizer_config.json` (as
            `save_pretrained` writes them).

    Raises:
        ValueError: the config names a special token the vocabulary lacks.
    """

    def __init__(self, path: str | Path) -> None:
        from tokenizers import Tokenizer

        path = Path(path)
        self._tokenizer = Tokenizer.from_file(str(path / TOKENIZER_FILE))
        self._config = config = json.loads((path / TOKENIZER_CONFIG_FILE).read_text())
        self.bos_token_id = self._special_id(config, "bos_token")
        self.eos_token_id = self._special_id(config, "eos_token")
        self.pad_token_id = self._special_id(config, "pad_token")

    def _special_id(self, config: dict, key: str) -> int | None:
        token = config.get(key)
        if isinstance(token, dict):  # older configs store an AddedToken's fields
            token = token.get("content")
        if token is None:
            return None
        token_id = self._tokenizer.token_to_id(token)
        if token_id is None:
            raise ValueError(f"tokenizer config names {key} {token!r}, which is not a token")
        return token_id

    def encode(self, text: str, add_special_tokens: bool = True) -> list[int]:
        """Token ids of `text` (with the tokenizer's BOS etc. when `add_special_tokens`)."""
        return self._tokenizer.encode(text, add_special_tokens=add_special_tokens).ids

    def decode(self, ids: Sequence[int], skip_special_tokens: bool = False) -> str:
        """The text of token ids."""
        return self._tokenizer.decode([int(i) for i in ids],
                                      skip_special_tokens=skip_special_tokens)

    def __len__(self) -> int:
        return self._tokenizer.get_vocab_size(with_added_tokens=True)

    def save_pretrained(self, directory: str | Path) -> None:
        """Writes `tokenizer.json` and `tokenizer_config.json` into `directory`, which both
        this class and transformers' `AutoTokenizer` read back."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self._tokenizer.save(str(directory / TOKENIZER_FILE))
        (directory / TOKENIZER_CONFIG_FILE).write_text(json.dumps(self._config, indent=2))


def load_tokenizer(path: str | Path):
    """`LeanTokenizer` for a directory holding a `tokenizer.json`; else transformers'
    `AutoTokenizer` (a model name in the local Hugging Face cache, or a directory with a
    tokenizer in another format).

    Raises:
        OSError: no tokenizer there (nothing is downloaded).
    """
    if (Path(path) / TOKENIZER_FILE).is_file() and (Path(path) / TOKENIZER_CONFIG_FILE).is_file():
        return LeanTokenizer(path)
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(path, local_files_only=True)
