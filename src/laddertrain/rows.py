"""The row shapes laddertrain reads and writes: a shard row's columns the stages read, the rows TRL's trainers
read, and the benchmark rows ``ladder eval --model`` hands an answer backend. Imports nothing heavy.
"""

from typing import Any, Literal, NamedTuple, NotRequired, TypedDict, cast

from ladderdata.prompts import chat_messages


class ShardRow(TypedDict):
    """The columns of a ladder shard row (``ladderdata.io.shards``) that the stage adapters read; a row read from
    a shard holds the other columns too (``images``, ``objects``, ...), which the adapters pass through unread."""

    question: str
    options: list[str]
    answer: str
    """The letter, the number, or for localization the JSON list of labels and boxes in the frame's pixels."""
    answer_type: str
    """``mcq``, ``numeric`` or ``boxes`` (:class:`ladderdata.tasks.base.AnswerType`)."""
    frame_ids: list[int]
    """One per image of the row (a video's frames, a multi-view set's views)."""
    image_width: int
    image_height: int
    completion: NotRequired[str]
    """Cold-start shards only (``ladder train coldstart-data``): the kept sampled answer."""
    reward: NotRequired[float]
    """Cold-start shards only: the kept answer's format + accuracy reward."""


class ContentBlock(TypedDict):
    """One block of a chat turn: an image placeholder (``text`` None, so the column has one Arrow type) or text."""

    type: Literal["image", "text"]
    text: str | None


class ChatTurn(TypedDict):
    role: Literal["system", "user", "assistant"]
    content: list[ContentBlock]


ChatTurns = list[ChatTurn]
"""Chat turns as :func:`ladderdata.prompts.chat_messages` builds them, read by TRL's vision trainers and the
processor's chat template."""


class SFTRow(TypedDict):
    """A row of TRL's ``SFTTrainer`` (beside the ``images`` column kept as stored): the conversation, the target
    as its last (assistant) turn."""

    messages: ChatTurns


class GRPORow(TypedDict):
    """A row of TRL's ``GRPOTrainer`` (beside ``images``): the prompt turns, and what the rewards compare with."""

    prompt: ChatTurns
    answer: str
    answer_type: str


TRLRow = SFTRow | GRPORow


class PixelBudget(NamedTuple):
    """The smallest and largest image area (pixels) the processor resizes each image into."""

    min_pixels: int
    max_pixels: int


QuestionRow = dict[str, Any]
"""A benchmark row as ``ladder eval`` hands it to an answer backend (``id``, ``question``, ``options``,
``answer_type``, ``images``): an open dict because that is the type of the protocol it arrives through
(:class:`ladderdata.extensions.AnswerBackend`) and of ``ladderdata.eval.hints.hinted_images``, which read the
benchmark's own columns; it narrows when those take the typed benchmark row."""


def chat_turns(prompt: str, images: int, answer: str | None = None) -> ChatTurns:
    """:func:`ladderdata.prompts.chat_messages` as the typed turns it builds (it returns plain dicts)."""
    return cast(ChatTurns, chat_messages(prompt, images, answer))
