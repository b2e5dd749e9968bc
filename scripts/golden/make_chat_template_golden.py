#!/usr/bin/env python3
"""Golden values for saro's Jinja interpreter and chat-template rendering, from transformers'
apply_chat_template (Jinja2 under Hugging Face's settings: trim_blocks, lstrip_blocks, loop
controls, raise_exception, tojson as json.dumps) and Hugging Face `tokenizers`.

The templates are written for these tests, each using the constructs one family's published
template uses (Llama 3.1/3.2: a dated system block, tools as indented JSON, tuple unpacking over
items, messages[1:]; Qwen2.5: a default system prompt, tool calls and tool responses grouped by
neighbour look-ups; Mistral v0.3: selectattr/rejectattr chains, slicing of tojson output, string
length checks; Gemma 2: role alternation enforced with raise_exception, role renaming; reasoning
templates: <think> split out of the content with split/strip methods, macros, namespaces,
{% generation %} markers), plus the template embedded in the default model's GGUF.

Writes Tests/ModelsTests/Golden/chat_templates/tokenizer.json (a byte-level BPE trained here
with every family's special tokens) and expected.json: for each case the template's name, the
context, the rendered text (or the exception a template raised), the token ids, and where the
template has {% generation %} blocks, transformers' assistant mask.

Run from the repository root with the TRL environment's python (it has transformers, tokenizers
and jinja2) after `pip install gguf` there:
  ~/.cache/saro/trl-venv/bin/python scripts/golden/make_chat_template_golden.py [model.gguf]
"""
import json
import os
import sys

from tokenizers import Tokenizer, models, pre_tokenizers, trainers, decoders
from transformers import PreTrainedTokenizerFast

OUT = os.path.join("Tests", "ModelsTests", "Golden", "chat_templates")
GGUF = os.path.expanduser("~/.cache/saro/models/smollm2-135m-instruct/SmolLM2-135M-Instruct.Q4_1.gguf")

SPECIAL = ["<|begin_of_text|>", "<|eot_id|>", "<|eom_id|>", "<|start_header_id|>", "<|end_header_id|>", "<|python_tag|>",
           "<|im_start|>", "<|im_end|>", "<|endoftext|>", "<s>", "</s>", "[INST]", "[/INST]", "[TOOL_CALLS]",
           "[AVAILABLE_TOOLS]", "[/AVAILABLE_TOOLS]", "[TOOL_RESULTS]", "[/TOOL_RESULTS]", "<bos>", "<eos>",
           "<start_of_turn>", "<end_of_turn>", "<tool_call>", "</tool_call>"]

# Llama 3.1/3.2 style: a system block with knowledge and today's date, tools as JSON with indent,
# tool calls as JSON or builtin-call syntax, ipython results.
DATED_HEADERS = r"""{{- bos_token }}
{%- if custom_tools is defined %}
    {%- set tools = custom_tools %}
{%- endif %}
{%- if not tools_in_user_message is defined %}
    {%- set tools_in_user_message = true %}
{%- endif %}
{%- if not date_string is defined %}
    {%- if strftime_now is defined %}
        {%- set date_string = strftime_now("%d %b %Y") %}
    {%- else %}
        {%- set date_string = "01 Jan 2025" %}
    {%- endif %}
{%- endif %}
{%- if not tools is defined %}
    {%- set tools = none %}
{%- endif %}

{#- The system text comes out of the conversation, when there is one #}
{%- if messages[0]['role'] == 'system' %}
    {%- set system_text = messages[0]['content']|trim %}
    {%- set messages = messages[1:] %}
{%- else %}
    {%- set system_text = "" %}
{%- endif %}

{{- "<|start_header_id|>system<|end_header_id|>\n\n" }}
{%- if builtin_tools is defined or tools is not none %}
    {{- "Environment: ipython\n" }}
{%- endif %}
{%- if builtin_tools is defined %}
    {{- "Tools: " + builtin_tools | reject('equalto', 'code_interpreter') | join(", ") + "\n\n"}}
{%- endif %}
{{- "Knowledge cutoff: March 2024\n" }}
{{- "Date: " + date_string + "\n\n" }}
{%- if tools is not none and not tools_in_user_message %}
    {{- "You may call these functions. Answer with JSON of the form {\"name\": name, \"parameters\": {...}}.\n\n" }}
    {%- for t in tools %}
        {{- t | tojson(indent=4) }}
        {{- "\n\n" }}
    {%- endfor %}
{%- endif %}
{{- system_text }}
{{- "<|eot_id|>" }}

{%- if tools_in_user_message and not tools is none %}
    {%- if messages | length != 0 %}
        {%- set first_user_message = messages[0]['content']|trim %}
        {%- set messages = messages[1:] %}
    {%- else %}
        {{- raise_exception("Tools go in the first user message, and there is none.") }}
    {%- endif %}
    {{- '<|start_header_id|>user<|end_header_id|>\n\n' -}}
    {{- "Functions you may call:\n\n" }}
    {%- for t in tools %}
        {{- t | tojson(indent=4) }}
        {{- "\n\n" }}
    {%- endfor %}
    {{- first_user_message + "<|eot_id|>"}}
{%- endif %}

{%- for message in messages %}
    {%- if not (message.role == 'ipython' or message.role == 'tool' or 'tool_calls' in message) %}
        {{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' }}
    {%- elif 'tool_calls' in message %}
        {%- if not message.tool_calls|length == 1 %}
            {{- raise_exception("Only one tool call per message is supported.") }}
        {%- endif %}
        {%- set call = message.tool_calls[0].function %}
        {%- if builtin_tools is defined and call.name in builtin_tools %}
            {{- '<|start_header_id|>assistant<|end_header_id|>\n\n' -}}
            {{- "<|python_tag|>" + call.name + ".call(" }}
            {%- for arg_name, arg_val in call.arguments | items %}
                {{- arg_name + '="' + arg_val + '"' }}
                {%- if not loop.last %}
                    {{- ", " }}
                {%- endif %}
            {%- endfor %}
            {{- ")" }}
        {%- else %}
            {{- '<|start_header_id|>assistant<|end_header_id|>\n\n' -}}
            {{- '{"name": "' + call.name + '", ' }}
            {{- '"parameters": ' }}
            {{- call.arguments | tojson }}
            {{- "}" }}
        {%- endif %}
        {%- if builtin_tools is defined %}
            {{- "<|eom_id|>" }}
        {%- else %}
            {{- "<|eot_id|>" }}
        {%- endif %}
    {%- elif message.role == "tool" or message.role == "ipython" %}
        {{- "<|start_header_id|>ipython<|end_header_id|>\n\n" }}
        {%- if message.content is mapping or message.content is iterable and message.content is not string %}
            {{- message.content | tojson }}
        {%- else %}
            {{- message.content }}
        {%- endif %}
        {{- "<|eot_id|>" }}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|start_header_id|>assistant<|end_header_id|>\n\n' }}
{%- endif %}
"""

# Qwen2.5 style: ChatML with a default system prompt, tools listed in the system turn, tool calls
# in <tool_call> tags, consecutive tool results grouped into one user turn.
CHATML_TOOLS = r"""{%- if tools %}
    {{- '<|im_start|>system\n' }}
    {%- if messages[0]['role'] == 'system' %}
        {{- messages[0]['content'] }}
    {%- else %}
        {{- 'You are a careful assistant.' }}
    {%- endif %}
    {{- "\n\n# Tools\n\nSignatures inside <tools></tools>:\n<tools>" }}
    {%- for tool in tools %}
        {{- "\n" }}
        {{- tool | tojson }}
    {%- endfor %}
    {{- "\n</tools>\n\nCall one with <tool_call></tool_call> around {\"name\": <name>, \"arguments\": <args>}.<|im_end|>\n" }}
{%- else %}
    {%- if messages[0]['role'] == 'system' %}
        {{- '<|im_start|>system\n' + messages[0]['content'] + '<|im_end|>\n' }}
    {%- else %}
        {{- '<|im_start|>system\nYou are a careful assistant.<|im_end|>\n' }}
    {%- endif %}
{%- endif %}
{%- for message in messages %}
    {%- if (message.role == "user") or (message.role == "system" and not loop.first) or (message.role == "assistant" and not message.tool_calls) %}
        {{- '<|im_start|>' + message.role + '\n' + message.content + '<|im_end|>' + '\n' }}
    {%- elif message.role == "assistant" %}
        {{- '<|im_start|>' + message.role }}
        {%- if message.content %}
            {{- '\n' + message.content }}
        {%- endif %}
        {%- for tool_call in message.tool_calls %}
            {%- if tool_call.function is defined %}
                {%- set tool_call = tool_call.function %}
            {%- endif %}
            {{- '\n<tool_call>\n{"name": "' }}
            {{- tool_call.name }}
            {{- '", "arguments": ' }}
            {{- tool_call.arguments | tojson }}
            {{- '}\n</tool_call>' }}
        {%- endfor %}
        {{- '<|im_end|>\n' }}
    {%- elif message.role == "tool" %}
        {%- if (loop.index0 == 0) or (messages[loop.index0 - 1].role != "tool") %}
            {{- '<|im_start|>user' }}
        {%- endif %}
        {{- '\n<tool_response>\n' }}
        {{- message.content }}
        {{- '\n</tool_response>' }}
        {%- if loop.last or (messages[loop.index0 + 1].role != "tool") %}
            {{- '<|im_end|>\n' }}
        {%- endif %}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\n' }}
{%- endif %}
"""

# Mistral v0.3 style: [INST] turns, the system prompt folded into the last user turn, tools
# before the last user turn, tool-call ids checked, filters chained over the messages.
INST_TOOLS = r"""{%- if messages[0]["role"] == "system" %}
    {%- set system_message = messages[0]["content"] %}
    {%- set loop_messages = messages[1:] %}
{%- else %}
    {%- set loop_messages = messages %}
{%- endif %}
{%- if not tools is defined %}
    {%- set tools = none %}
{%- endif %}
{%- set user_messages = loop_messages | selectattr("role", "equalto", "user") | list %}

{#- Turns must alternate, tool traffic aside #}
{%- set ns = namespace(count=0) %}
{%- for message in loop_messages | rejectattr("role", "equalto", "tool") | rejectattr("role", "equalto", "tool_results") | selectattr("tool_calls", "undefined") %}
    {%- if (message["role"] == "user") != (ns.count % 2 == 0) %}
        {{- raise_exception("Roles must alternate user and assistant (tool turns aside).") }}
    {%- endif %}
    {%- set ns.count = ns.count + 1 %}
{%- endfor %}

{{- bos_token }}
{%- for message in loop_messages %}
    {%- if message["role"] == "user" %}
        {%- if tools is not none and (message == user_messages[-1]) %}
            {{- "[AVAILABLE_TOOLS] [" }}
            {%- for tool in tools %}
                {%- set tool = tool.function %}
                {{- '{"type": "function", "function": {' }}
                {%- for key, val in tool.items() if key != "return" %}
                    {%- if val is string %}
                        {{- '"' + key + '": "' + val + '"' }}
                    {%- else %}
                        {{- '"' + key + '": ' + val|tojson }}
                    {%- endif %}
                    {%- if not loop.last %}
                        {{- ", " }}
                    {%- endif %}
                {%- endfor %}
                {{- "}}" }}
                {%- if not loop.last %}
                    {{- ", " }}
                {%- else %}
                    {{- "]" }}
                {%- endif %}
            {%- endfor %}
            {{- "[/AVAILABLE_TOOLS]" }}
        {%- endif %}
        {%- if loop.last and system_message is defined %}
            {{- "[INST] " + system_message + "\n\n" + message["content"] + "[/INST]" }}
        {%- else %}
            {{- "[INST] " + message["content"] + "[/INST]" }}
        {%- endif %}
    {%- elif message.tool_calls is defined and message.tool_calls is not none %}
        {{- "[TOOL_CALLS] [" }}
        {%- for tool_call in message.tool_calls %}
            {%- set out = tool_call.function|tojson %}
            {{- out[:-1] }}
            {%- if not tool_call.id is defined or tool_call.id|length != 9 %}
                {{- raise_exception("Tool call ids must be nine characters long.") }}
            {%- endif %}
            {{- ', "id": "' + tool_call.id + '"}' }}
            {%- if not loop.last %}
                {{- ", " }}
            {%- else %}
                {{- "]" + eos_token }}
            {%- endif %}
        {%- endfor %}
    {%- elif message["role"] == "assistant" %}
        {{- " " + message["content"]|trim + eos_token}}
    {%- elif message["role"] == "tool_results" or message["role"] == "tool" %}
        {%- if message.content is defined and message.content.content is defined %}
            {%- set content = message.content.content %}
        {%- else %}
            {%- set content = message.content %}
        {%- endif %}
        {{- '[TOOL_RESULTS] {"content": ' + content|string + ", " }}
        {%- if not message.tool_call_id is defined or message.tool_call_id|length != 9 %}
            {{- raise_exception("Tool call ids must be nine characters long.") }}
        {%- endif %}
        {{- '"call_id": "' + message.tool_call_id + '"}[/TOOL_RESULTS]' }}
    {%- else %}
        {{- raise_exception("Only user, assistant and tool roles, with an optional system message first.") }}
    {%- endif %}
{%- endfor %}
"""

# Gemma 2 style: no system role, strict alternation, the assistant called "model".
TURNS = r"""{{ bos_token }}{% if messages[0]['role'] == 'system' %}{{ raise_exception('This template has no system role.') }}{% endif %}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Turns must alternate user, assistant, user, ...') }}{% endif %}{% if (message['role'] == 'assistant') %}{% set role = 'model' %}{% else %}{% set role = message['role'] %}{% endif %}{{ '<start_of_turn>' + role + '\n' + message['content'] | trim + '<end_of_turn>\n' }}{% endfor %}{% if add_generation_prompt %}{{'<start_of_turn>model\n'}}{% endif %}"""

# Reasoning style (as Qwen3 and DeepSeek-R1 templates): <think> blocks split out of assistant
# content with string methods, kept only after the last user query, a macro for the content,
# a namespace found by walking the messages in reverse.
REASONING = r"""{%- macro text_of(content) -%}
    {%- if content is string -%}
        {{- content -}}
    {%- else -%}
        {%- for part in content if part.type == 'text' -%}{{- part.text -}}{%- endfor -%}
    {%- endif -%}
{%- endmacro -%}
{%- set ns = namespace(last_query=messages|length - 1) %}
{%- for message in messages[::-1] %}
    {%- set index = (messages|length - 1) - loop.index0 %}
    {%- if message.role == "user" and ns.last_query == messages|length - 1 and index >= 0 %}
        {%- set ns.last_query = index %}
    {%- endif %}
{%- endfor %}
{%- for message in messages %}
    {%- set content = text_of(message.content) %}
    {%- if message.role == "system" or message.role == "user" %}
        {{- '<|im_start|>' + message.role + '\n' + content + '<|im_end|>\n' }}
    {%- elif message.role == "assistant" %}
        {%- set reasoning = '' %}
        {%- if '</think>' in content %}
            {%- set reasoning = content.split('</think>')[0].rstrip('\n').split('<think>')[-1].lstrip('\n') %}
            {%- set content = content.split('</think>')[-1].lstrip('\n') %}
        {%- endif %}
        {%- if loop.index0 > ns.last_query %}
            {{- '<|im_start|>' + message.role + '\n' }}
            {%- generation %}
            {{- '<think>\n' + reasoning.strip('\n') + '\n</think>\n\n' + content.lstrip('\n') + '<|im_end|>' }}
            {%- endgeneration %}
            {{- '\n' }}
        {%- else %}
            {{- '<|im_start|>' + message.role + '\n' }}
            {%- generation %}
            {{- content + '<|im_end|>' }}
            {%- endgeneration %}
            {{- '\n' }}
        {%- endif %}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\n' }}
    {%- if enable_thinking is defined and enable_thinking is false %}
        {{- '<think>\n\n</think>\n\n' }}
    {%- endif %}
{%- endif %}
"""

# ChatML and Llama 3 turns with {% generation %} markers, for assistant masks; and the same
# templates without them, whose masks saro must derive by rendering conversation prefixes.
CHATML_MARKED = r"""{% for message in messages %}{% if loop.first and message['role'] != 'system' %}{{ '<|im_start|>system
You are a helpful assistant.<|im_end|>
' }}{% endif %}{{ '<|im_start|>' + message['role'] + '
' }}{% if message['role'] == 'assistant' %}{% generation %}{{ message['content'] + '<|im_end|>' }}{% endgeneration %}{% else %}{{ message['content'] + '<|im_end|>' }}{% endif %}{{ '
' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant
' }}{% endif %}"""

LLAMA3_MARKED = r"""{{- bos_token }}
{%- for message in messages %}
    {{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n' }}
    {%- if message['role'] == 'assistant' %}
        {%- generation %}
        {{- message['content'] | trim + '<|eot_id|>' }}
        {%- endgeneration %}
    {%- else %}
        {{- message['content'] | trim + '<|eot_id|>' }}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|start_header_id|>assistant<|end_header_id|>\n\n' }}
{%- endif %}
"""

# Constructs the family templates do not use but real templates elsewhere do: whitespace markers
# next to text, loop.cycle, else on for, break/continue, block set, filters and tests by name.
CONSTRUCTS = r"""{# comment on its own line #}
  {% set greeting %}Hello {{ who | default('world') | title }}!{% endset %}
{{ greeting }}
{%- for m in messages %}
  {%- if loop.index is divisibleby 3 %}{% break %}{% endif %}
  {%- if m.role == 'system' %}{% continue %}{% endif %}
[{{ loop.index }}/{{ loop.length }} {{ loop.cycle('odd', 'even') }} {{ m.role | upper }}] {{ m.content | replace('\n', ' ') if m.content else '-' }}
{%- else %}
(no messages)
{%- endfor %}
  {%+ if true %}kept{% endif %}
{{ [3, 1, 2] | sort | join(',') }} {{ ['b', 'a', 'b'] | unique | list | length }} {{ {'b': 1, 'a': 2} | dictsort | first | first }}
{{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % 3 }} {{ -7 % 3 }} {{ 2 ** 10 }} {{ 7 / 2 }} {{ 1 + 2.5 }} {{ 'ab' * 3 }} {{ 10 - 3 - 2 }}
{{ 'x' ~ 1 ~ none ~ true }} {{ 1 < 2 < 3 }} {{ 'a' in 'cat' }} {{ 'z' not in ['a'] }} {{ not 0 }} {{ none is none }}
{{ 'Hello World'.lower().split() }} {{ ' a b '.strip() }}|{{ 'a,b,,c'.split(',') }} {{ 'x-y-z'.split('-', 1) }} {{ 'abc'[::-1] }} {{ 'abc'[-1] }}
{{ 'done' if messages | length > 1 else 'short' }} {{ range(3) | list }} {{ [1, 2, 3] | sum }} {{ [1, 5, 2] | max }} {{ 'é😀'|length }}
{{ {'k': [1, 2.5, none, true, 'q"\u00e9']} | tojson }} {{ {'k': 'v'} }} {{ [1, 'a'] }} {{ 1.0 }} {{ 1e20 }} {{ 0.1 + 0.2 }}
{{ messages | map(attribute='role') | join('/') }} {{ messages | selectattr('role', 'in', ['user', 'system']) | list | length }}
{{ 'title case words'|title }} {{ 'UPPER'|lower|capitalize }} {{ '  pad'|indent(2, true) }} {{ 'a b  c'|wordcount }}
{%- macro pair(a, b='B') %}<{{ a }}{{ b }}>{% endmacro %}
{{ pair('A') }}{{ pair('A', b='C') }}{{ pair(b='D', a='E') }}
"""

TEMPLATES = {
    "dated_headers": (DATED_HEADERS, "<|begin_of_text|>", "<|eot_id|>"),
    "chatml_tools": (CHATML_TOOLS, "<|endoftext|>", "<|im_end|>"),
    "inst_tools": (INST_TOOLS, "<s>", "</s>"),
    "turns": (TURNS, "<bos>", "<eos>"),
    "reasoning": (REASONING, "<|endoftext|>", "<|im_end|>"),
    "chatml_marked": (CHATML_MARKED, "<|endoftext|>", "<|im_end|>"),
    "llama3_marked": (LLAMA3_MARKED, "<|begin_of_text|>", "<|eot_id|>"),
    "constructs": (CONSTRUCTS, "<s>", "</s>"),
}

TOOL = {"function": {"description": "Current weather in a city.", "name": "get_weather",
                     "parameters": {"properties": {"city": {"description": "City name, e.g. Paris", "type": "string"},
                                                   "unit": {"enum": ["celsius", "fahrenheit"], "type": "string"}},
                                    "required": ["city"], "type": "object"}},
        "type": "function"}

PLAIN = [
    [{"content": "What is the capital of France?", "role": "user"}],
    [{"content": "You are terse.", "role": "system"}, {"content": "Name three colours.", "role": "user"}],
    [{"content": "  Be careful.  \n", "role": "system"}, {"content": "How do I kill a Python process?", "role": "user"},
     {"content": "<think>\nA process, not a person.\n</think>\nUse `kill PID`.", "role": "assistant"},
     {"content": "Thanks! 😀 日本語", "role": "user"}],
    [{"content": "Line one\r\nline two\n\n", "role": "user"},
     {"content": "\n<think>\nStep 1: it is benign.\n\nStep 2: answer.\n</think>\n\nSure — here:\n\tcode", "role": "assistant"}],
    [{"content": "hi", "role": "user"}, {"content": "Hello!", "role": "assistant"}, {"content": "Tell me a joke.", "role": "user"},
     {"content": "No.", "role": "assistant"}],
]

TOOLS_CHAT = [
    {"content": "Weather in Paris?", "role": "user"},
    {"content": "", "role": "assistant", "tool_calls": [{"function": {"arguments": {"city": "Paris", "unit": "celsius"}, "name": "get_weather"},
                                                         "id": "abc123XYZ", "type": "function"}]},
    {"content": "{\"temperature\": 21}", "role": "tool", "tool_call_id": "abc123XYZ"},
    {"content": "It is 21 °C in Paris.", "role": "assistant"},
]


def cases():
    for name in TEMPLATES:
        for messages in PLAIN:
            for gen in (True, False):
                yield name, messages, {"add_generation_prompt": gen, "date_string": "26 Jul 2024"}
    for name in ("dated_headers", "chatml_tools", "inst_tools"):
        yield name, TOOLS_CHAT, {"tools": [TOOL], "add_generation_prompt": False, "date_string": "26 Jul 2024"}
    yield "dated_headers", [PLAIN[0][0]], {"tools": [TOOL], "tools_in_user_message": False, "add_generation_prompt": True, "date_string": "26 Jul 2024"}
    yield "dated_headers", [TOOLS_CHAT[0], TOOLS_CHAT[1]], {"builtin_tools": ["get_weather", "code_interpreter"], "add_generation_prompt": False, "date_string": "26 Jul 2024"}
    yield "reasoning", PLAIN[0], {"add_generation_prompt": True, "enable_thinking": False}
    yield "inst_tools", [{"content": "a", "role": "user"}, {"content": "b", "role": "user"}], {"add_generation_prompt": False}
    yield "inst_tools", TOOLS_CHAT[:2] + [{"content": "x", "role": "tool", "tool_call_id": "short"}], {"tools": [TOOL], "add_generation_prompt": False}
    yield "constructs", PLAIN[2], {"add_generation_prompt": False, "who": "jinja fan"}


def build_tokenizer():
    corpus = [m["content"] for chat in PLAIN for m in chat] * 20 + [json.dumps(TOOL)] * 5
    corpus += [t[0] for t in TEMPLATES.values()]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=600, special_tokens=SPECIAL, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(corpus, trainer)
    return tok


def gguf_template(path):
    from gguf import GGUFReader
    reader = GGUFReader(path)
    field = reader.fields["tokenizer.chat_template"]
    return bytes(field.parts[field.data[0]]).decode("utf-8")


def main():
    os.makedirs(OUT, exist_ok=True)
    templates = {name: t[0] for name, t in TEMPLATES.items()}
    tokens = {name: {"bos_token": t[1], "eos_token": t[2]} for name, t in TEMPLATES.items()}
    templates["smollm2_gguf"] = gguf_template(sys.argv[1] if len(sys.argv) > 1 else GGUF)
    tokens["smollm2_gguf"] = {"bos_token": "<|im_start|>", "eos_token": "<|im_end|>"}
    tok = build_tokenizer()
    tok.save(os.path.join(OUT, "tokenizer.json"))
    all_cases = list(cases()) + [("smollm2_gguf", m, {"add_generation_prompt": g}) for m in PLAIN for g in (True, False)]
    out = []
    for name, messages, kwargs in all_cases:
        fast = PreTrainedTokenizerFast(tokenizer_object=tok, chat_template=templates[name], **tokens[name])
        case = {"template": name, "messages": messages, "kwargs": kwargs}
        extra = {k: v for k, v in kwargs.items() if k not in ("tools", "add_generation_prompt")}
        try:
            text = fast.apply_chat_template(messages, tools=kwargs.get("tools"), add_generation_prompt=kwargs["add_generation_prompt"],
                                            tokenize=False, **extra)
        except Exception as e:  # a template's raise_exception, reported as transformers reports it
            case["error"] = str(e)
            out.append(case)
            continue
        case["text"] = text
        case["ids"] = tok.encode(text, add_special_tokens=False).ids
        if "{% generation %}" in templates[name] or "{%- generation %}" in templates[name]:
            d = fast.apply_chat_template(messages, tools=kwargs.get("tools"), add_generation_prompt=kwargs["add_generation_prompt"],
                                         tokenize=True, return_dict=True, return_assistant_tokens_mask=True, **extra)
            assert list(d["input_ids"]) == case["ids"]
            case["assistant_masks"] = list(d["assistant_masks"])
        out.append(case)
    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump({"source": "transformers apply_chat_template (jinja2), tokenizers", "templates": templates, "tokens": tokens, "cases": out},
                  f, ensure_ascii=False, indent=0)
    print(len(out), "cases,", sum("error" in c for c in out), "raised")


if __name__ == "__main__":
    main()
