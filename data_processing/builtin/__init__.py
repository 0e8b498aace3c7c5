"""Prompts written for this project, one module per language (en, de, fr, ja, ru, zh).

Each module defines CHAT (open questions), SUMMARIZATION (3-4 sentence paragraphs), QA ((question,
short answer) pairs) and the two prompt templates that frame its summaries and questions.
data_processing.builtin_set turns them into question rows.
"""
