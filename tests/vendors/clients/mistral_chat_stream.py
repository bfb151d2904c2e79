"""``Mistral.chat.stream`` against ``server_url``; prints the streamed text and the usage of the
last chunk as JSON.

    python mistral_chat_stream.py '{"server_url": URL, "api_key": KEY, "model": M, "content": TEXT}'
"""

import json
import sys

from mistralai.client import Mistral

args = json.loads(sys.argv[1])
client = Mistral(api_key=args["api_key"], server_url=args["server_url"], timeout_ms=30_000)
text, usage = "", None
with client.chat.stream(
    model=args["model"], messages=[{"role": "user", "content": args["content"]}]
) as events:
    for event in events:
        chunk = event.data
        if chunk.choices and isinstance(chunk.choices[0].delta.content, str):
            text += chunk.choices[0].delta.content
        if chunk.usage is not None:
            usage = {
                "prompt_tokens": chunk.usage.prompt_tokens,
                "completion_tokens": chunk.usage.completion_tokens,
                "total_tokens": chunk.usage.total_tokens,
            }
print(json.dumps({"text": text, "usage": usage}))
