"""Writes a tiny word-level corpus (train/valid/test.txt) for word_language_model: sentences from a
small fixed grammar, drawn with a seeded ``random``, so a model can learn it within seconds."""
import os
import random
import sys

SUBJECTS = ["the cat", "the dog", "a bird", "my friend", "the teacher", "a child"]
VERBS = ["sees", "likes", "finds", "follows", "calls", "helps"]
OBJECTS = ["the ball", "a tree", "the house", "the river", "a book", "the garden"]
ENDINGS = ["today", "again", "in the morning", "at night", "with joy"]


def sentence(rng):
    words = [rng.choice(SUBJECTS), rng.choice(VERBS), rng.choice(OBJECTS)]
    if rng.random() < 0.5:
        words.append(rng.choice(ENDINGS))
    return " ".join(words) + " ."


def write_corpus(path, lines=(600, 80, 80), seed=0):
    """Writes train/valid/test.txt under ``path`` with the given numbers of lines."""
    rng = random.Random(seed)
    os.makedirs(path, exist_ok=True)
    for name, count in zip(("train", "valid", "test"), lines):
        with open(os.path.join(path, name + ".txt"), "w") as f:
            for _ in range(count):
                f.write(" " + " ".join(sentence(rng) for _ in range(2)) + " \n")


if __name__ == "__main__":
    write_corpus(sys.argv[1] if len(sys.argv) > 1 else "corpus")
