"""What ties a teacher-cache entry to its text: the response hash (:func:`response_hash`)
and the content key of the rendered prompt and response (:func:`content_key`,
:func:`example_keys`), checked by :class:`fusion.teacher_cache.TeacherCache`.
"""

from __future__ import annotations

import hashlib
from typing import Any

from fusion.data import Example


def response_hash(response: str) -> str:
    """Short hash of the response text an entry was computed from."""
    return hashlib.sha1(response.encode("utf-8")).hexdigest()[:16]


def content_key(rendered_prompt: str, response: str) -> str:
    """The key of an entry: sha256 of the source's rendered prompt and the response."""
    return hashlib.sha256(f"{rendered_prompt}\0{response}".encode()).hexdigest()[:32]


def example_keys(tokenizer: Any, examples: list[Example], template: str | None) -> dict[str, str]:
    """``{id: content_key}`` of ``examples`` rendered with this source's chat template."""
    from fusion.models import render_prompt

    return {e.id: content_key(render_prompt(tokenizer, e.prompt, template=template, add_generation_prompt=True),
                              e.response) for e in examples}
