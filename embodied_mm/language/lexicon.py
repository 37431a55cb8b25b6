"""The words instructions are built from, each split into a `train` and a `heldout` side.

A part is held out whole: a noun, a colour spelling, a verb frame or a wrapper on the
`heldout` side never appears in training data, so an evaluation on that side measures transfer
to unseen words and constructions rather than memorised sentences. Everything here is data;
`embodied_mm.language.render` composes it.

Example:
    python -c "from embodied_mm.language.lexicon import NOUNS; print(NOUNS['bowl'].heldout)"
"""

from __future__ import annotations

from dataclasses import dataclass

SIDES: tuple[str, ...] = ("train", "heldout")


@dataclass(frozen=True)
class Split:
    """Alternatives for one slot: `train` ones may be trained on, `heldout` ones never are."""

    train: tuple[str, ...]
    heldout: tuple[str, ...]

    def side(self, side: str) -> tuple[str, ...]:
        """The alternatives of `side` (`train` or `heldout`)."""
        return self.train if side == "train" else self.heldout


# Nouns per object kind. The first train noun is the canonical one (the plan and VQA words).
NOUNS: dict[str, Split] = {
    "block": Split(("block", "cube", "brick", "toy block", "wooden block", "square block",
                    "small block", "little cube", "wooden cube", "plastic block", "toy cube",
                    "cube-shaped block", "square piece", "solid block", "little block",
                    "small cube", "wood block", "play block", "block piece", "chunky block",
                    "stacking block", "little brick", "small brick", "plastic cube",
                    "cubic block", "wooden brick", "mini cube", "stacking cube"),
                   ("cuboid", "building block", "toy brick")),
    "bowl": Split(("bowl", "dish", "basin", "container", "small bowl", "round bowl",
                   "plastic bowl", "ceramic bowl", "mixing bowl", "round dish", "bin",
                   "tub", "basket", "small dish", "soup bowl", "cereal bowl", "serving dish",
                   "little bowl", "salad bowl", "shallow bowl", "deep bowl", "wooden bowl",
                   "little dish", "small basin", "round container", "open container",
                   "plastic dish"),
                  ("vessel", "receptacle", "pot")),
}
# Plurals that English's regular endings (`render.plural`) get wrong.
PLURAL_EXCEPTIONS = {"knife": "knives", "leaf": "leaves", "potato": "potatoes",
                     "tomato": "tomatoes", "scissors": "scissors"}

# Things that are not in any scene, for absent-reference (`cannot()`) requests. Not a word a
# speaker could mean a block or a bowl by (cup, box, tray, plate, cylinder): training those to
# `cannot()` would teach refusing the unseen synonyms the held-out side measures.
UNKNOWN_NOUNS = Split(
    ("ball", "apple", "banana", "bottle", "pen", "phone", "spoon", "sponge", "book",
     "toy car", "marker", "candle", "fork", "knife", "lemon", "sphere", "pyramid", "ring",
     "toy truck", "doll", "glove", "brush", "pencil", "egg", "wallet", "triangle", "towel",
     "scissors", "clock", "hat", "sock", "leaf", "flower", "feather", "coin", "cable",
     "screwdriver", "battery", "light bulb", "paperclip", "ruler", "notebook", "toothbrush",
     "comb", "bell", "rubber duck", "potato", "cone"),
    ("hammer", "carrot", "shoe", "key", "teddy bear", "remote", "stapler", "tomato"))

# Spellings of each palette colour (the canonical word first; it is on the train side).
COLOR_WORDS: dict[str, Split] = {
    "red": Split(("red", "crimson", "bright red", "dark red", "cherry red", "ruby", "ruby red",
                  "blood red", "fire-engine red", "deep red", "vivid red"), ("scarlet",)),
    "green": Split(("green", "lime green", "dark green", "bright green", "forest green", "olive",
                    "olive green", "jade", "mint green", "grass green", "sage green"),
                   ("emerald",)),
    "blue": Split(("blue", "navy blue", "dark blue", "royal blue", "cobalt", "sapphire",
                    "ocean blue", "deep blue", "midnight blue", "denim blue"), ("azure",)),
    "yellow": Split(("yellow", "golden", "bright yellow", "gold", "canary yellow",
                      "butter yellow", "sunflower yellow", "sunny yellow", "pale yellow",
                      "daffodil yellow"),
                    ("mustard",)),
    "purple": Split(("purple", "violet", "plum", "dark purple", "grape", "lilac", "mauve",
                      "amethyst", "deep purple", "royal purple", "light purple"),
                     ("lavender",)),
    "orange": Split(("orange", "tangerine", "bright orange", "dark orange", "pumpkin",
                      "burnt orange", "deep orange", "vivid orange", "sunset orange"),
                    ("amber",)),
    "pink": Split(("pink", "rose", "light pink", "hot pink", "bubblegum pink", "salmon",
                  "salmon pink", "blush pink", "pastel pink", "baby pink", "flamingo pink"),
                 ("fuchsia",)),
    "cyan": Split(("cyan", "turquoise", "teal", "bright cyan", "blue-green", "light cyan",
                  "pale cyan", "deep cyan", "electric cyan"), ("aqua",)),
    "brown": Split(("brown", "chocolate", "dark brown", "coffee", "chestnut", "mocha", "caramel",
                   "hazel", "mahogany", "light brown", "walnut brown"), ("tan",)),
    "white": Split(("white", "ivory", "snow white", "off-white", "pure white", "pearl",
                   "pearl white", "milky white", "chalk white", "bright white", "bone white"),
                  ("cream",)),
}
COLOR_NOUN = Split(("color", "colour"), ("hue", "shade"))

# How a colour attaches to a noun: {c} colour word, {n} noun.
COLORED_NP = Split(("{c} {n}", "{c} {n}", "{c} {n}", "{c} {n}", "{n} that is {c}",
                    "{c}-colored {n}", "{n} colored {c}", "{n} painted {c}", "{n} that's {c}",
                    "{n} with the {c} color"),
                   ("{n} which is {c}", "{c}-coloured {n}", "{n} in {c}"))

# Spatial referents of `spatial_ref`, {n} = block noun, {a} = the anchor's noun phrase.
RELATIONS: dict[str, Split] = {
    "leftmost": Split(("leftmost {n}", "{n} on the far left", "{n} furthest to the left",
                       "left-most {n}", "{n} farthest to the left", "{n} furthest left",
                       "{n} that is leftmost", "{n} on the left-most side",
                       "{n} at the far left", "{n} at the left end", "{n} furthest on the left"),
                      ("{n} that is most to the left", "{n} at the very left")),
    "rightmost": Split(("rightmost {n}", "{n} on the far right", "{n} furthest to the right",
                        "right-most {n}", "{n} farthest to the right", "{n} furthest right",
                        "{n} that is rightmost", "{n} on the right-most side",
                        "{n} at the far right", "{n} at the right end",
                        "{n} furthest on the right"),
                       ("{n} that is most to the right", "{n} at the very right")),
    "nearest": Split(("{n} nearest the robot", "{n} closest to the robot",
                      "{n} nearest to the robot", "{n} closest to you", "{n} nearest to you",
                      "closest {n} to the robot", "{n} that is nearest the robot",
                      "{n} closest to the robot's base", "{n} nearest the arm",
                      "{n} closest to the arm", "{n} that is closest to you"),
                     ("{n} the robot is closest to", "robot's nearest {n}")),
    "farthest": Split(("{n} farthest from the robot", "{n} furthest from the robot",
                       "most distant {n} from the robot", "{n} farthest from you",
                       "{n} furthest away from you", "{n} furthest away from the robot",
                       "farthest {n} from the robot", "{n} farthest away",
                       "{n} most distant from you", "{n} farthest from the arm",
                       "{n} that is farthest from you"),
                      ("{n} at the far end from the robot", "{n} the robot is furthest from")),
    "closest_to": Split(("{n} closest to {a}", "{n} nearest {a}", "{n} next to {a}",
                         "{n} nearest to {a}", "{n} near {a}", "{n} that is closest to {a}",
                         "{n} right next to {a}", "{n} that sits nearest {a}",
                         "{n} adjacent to {a}", "{n} alongside {a}", "{n} close to {a}",
                         "{n} that is next to {a}"),
                        ("{n} by {a}", "{n} beside {a}")),
}

# Table sides (push_to_side) and zones (place_at_zone).
SIDE_WORDS: dict[str, Split] = {
    "left": Split(("left side", "left", "left edge"), ("left-hand side", "left end")),
    "right": Split(("right side", "right", "right edge"), ("right-hand side", "right end")),
    "front": Split(("front side", "front", "front edge"), ("near side", "near end")),
    "back": Split(("back side", "back", "back edge", "rear", "rear side"),
                  ("far side", "far end")),
}
PUSH_DIRECTION_WORDS: dict[str, Split] = {
    "left": Split(("left", "to the left"), ("leftwards",)),
    "right": Split(("right", "to the right"), ("rightwards",)),
    "forward": Split(("away from the robot", "forward"), ("further away",)),
    "backward": Split(("towards the robot", "backward"), ("closer to the robot",)),
}
ZONE_WORDS: dict[str, Split] = {
    "left": Split(("left side", "left edge"), ("left-hand side",)),
    "right": Split(("right side", "right edge"), ("right-hand side",)),
    "front": Split(("front edge", "front"), ("near edge",)),
    "back": Split(("back edge", "back", "rear edge"), ("far edge",)),
    "center": Split(("center", "centre", "middle"), ("very middle",)),
    "front_left": Split(("front left corner", "front-left corner", "left front corner"),
                        ("near left corner",)),
    "front_right": Split(("front right corner", "front-right corner", "right front corner"),
                         ("near right corner",)),
    "back_left": Split(("back left corner", "back-left corner", "left back corner",
                        "rear left corner"),
                       ("far left corner",)),
    "back_right": Split(("back right corner", "back-right corner", "right back corner",
                         "rear right corner"),
                        ("far right corner",)),
}

# Requests around an imperative clause {s}.
WRAPPERS = Split(
    ("{s}", "{s}", "{s}", "{s}", "please {s}", "{s}, please", "could you {s}?", "can you {s}?",
     "I want you to {s}", "I'd like you to {s}", "your task is to {s}", "go ahead and {s}",
     "{s} now", "would you {s}?", "robot, {s}", "please, {s}", "could you please {s}?",
     "can you please {s}?", "try to {s}", "you should {s}", "now {s}", "next, {s}",
     "just {s}", "carefully {s}", "{s} for me", "do me a favor and {s}", "it's time to {s}",
     "okay robot, {s}", "the next thing to do is {s}", "I'd love it if you would {s}",
     "will you {s}?", "you need to {s}", "help me {s}", "{s}, thanks", "please {s}, thank you",
     "I would like you to {s}", "could you {s} for me?", "can you {s}, please?",
     "your job is to {s}", "make sure to {s}", "please go ahead and {s}", "the task: {s}",
     "I'd appreciate it if you would {s}", "robot, please {s}", "mind you, {s}",
     "{s} when you are ready", "do you think you could {s}?", "if you can, {s}"),
    ("would you kindly {s}?", "I need you to {s}", "hey robot, {s}", "let's {s}",
     "be so kind as to {s}", "it would be great if you could {s}"))

# Optional clauses about another object in the scene, {o} its noun phrase.
MENTIONS = Split((", and leave {o} where it is", " without touching {o}",
                  " but do not move {o}", " and don't move {o}", ", leaving {o} alone",
                  " but leave {o} in place", " and do not touch {o}"),
                 ("; ignore {o}", " and keep your hands off {o}"))
