"""``Mistral.chat.complete`` against ``server_url``; prints the answer's text and usage as JSON.

    python mistral_chat_complete.py \
        '{"server_url": URL, "api_key": KEY, "model": M, "content": TEXT}'
"""

import json
import sys

from mistralai.client import Mistral

args = json.loads(sys.argv[1])
client = Mistral(api_key=args["api_key"], server_url=args["server_url"], timeout_ms=30_000)
response = client.chat.complete(
    model=args["model"], messages=[{"role": "user", "content": args["content"]}]
)
usage = response.usage
print(
    json.dumps(
        {
            "text": response.choices[0].message.content,
            "usage": {
                "prompt_tokens": usage.prompt_tokens,
                "completion_tokens": usage.completion_tokens,
                "total_tokens": usage.total_tokens,
            },
        }
    )
)
