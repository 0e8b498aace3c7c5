"""English prompts of the built-in set (original text written for multispec)."""
from __future__ import annotations

SUMMARY_TEMPLATE = "Summarize in one sentence: {text}\nSummary:"
QA_TEMPLATE = "Question: {question}\nAnswer:"

CHAT: list[str] = [
    "What are three simple ways to waste less food at home?",
    "I have a job interview tomorrow. How should I prepare tonight?",
    "Can you explain what a compiler does, as if I were twelve years old?",
    "Suggest a name for a small bakery that specializes in rye bread.",
    "Write a short, friendly message to a neighbour asking them to water my plants next week.",
    "What should I pack for a two-day hiking trip in the mountains in autumn?",
    "Why do some people find it easier to learn a language by listening to podcasts?",
    "Give me a simple weekly plan to start running if I have never jogged before.",
    "How can a small team keep track of who is working on which task?",
    "Describe a quiet Sunday morning in a seaside town in four sentences.",
]

SUMMARIZATION: list[str] = [
    "The town council voted on Tuesday to close the old swimming pool at the end of the summer. Repairs to the "
    "roof and the heating system would have cost more than building a new pool. A new sports centre with two pools "
    "is planned near the railway station. Until it opens, residents can use the pool in the neighbouring village.",
    "Researchers followed two hundred volunteers who learned to play a musical instrument after the age of sixty. "
    "After one year, most of them scored better on memory tests than a group that did not practise. The effect was "
    "largest for those who practised at least three times a week. The authors want to repeat the study with more people.",
    "A bakery in the old town has started selling yesterday's bread at half price in the evening. The owner says "
    "she used to throw away up to twenty loaves a day. Since the change, almost nothing is left at closing time. "
    "Several other shops on the same street are now considering a similar offer.",
    "The library will switch to a new lending system next month. Readers will be able to renew books online and "
    "will receive a reminder by e-mail three days before the due date. During the changeover week the library will "
    "be closed on Monday and Tuesday.",
]

QA: list[tuple[str, str]] = [
    ("How many days are there in a leap year?", "366"),
    ("What gas do plants take in from the air to make sugar?", "Carbon dioxide"),
    ("What is the boiling point of water at sea level in degrees Celsius?", "100 degrees Celsius"),
    ("Which planet is closest to the Sun?", "Mercury"),
    ("How many sides does a hexagon have?", "Six"),
    ("What is 15 multiplied by 4?", "60"),
    ("In which continent is Kenya located?", "Africa"),
    ("What is the frozen form of water called?", "Ice"),
    ("How many minutes are there in two hours?", "120"),
    ("Which organ pumps blood through the human body?", "The heart"),
]
