// The official OpenAI Node.js SDK (pinned in package.json) against janus serve:
// non-streaming and streaming completion and chat, usage and finish_reason, models list,
// and an API error surfacing as the SDK's typed error. Usage: node openai_client.mjs PORT
// With "overload" (a server of tiny capacity): concurrent streams over capacity, with
// maxRetries 0 (the SDK retries 429 by default), each either completes or is refused with
// a RateLimitError (429, rate_limit_exceeded, Retry-After) before any stream starts
// (issue 15 item 2). Usage: node openai_client.mjs PORT overload
// SPDX-License-Identifier: MIT
import OpenAI from "openai";

const port = process.argv[2];
const client = new OpenAI({ baseURL: `http://127.0.0.1:${port}/v1`, apiKey: "sekret", maxRetries: 0, timeout: 60000 });
const fail = (msg) => { console.error("FAIL:", msg); process.exitCode = 1; };
const ok = (msg) => console.log("ok  ", msg);

if (process.argv[3] === "overload") {
  const model = (await client.models.list()).data[0].id;
  const N = 8;
  const one = async () => {
    try {
      const s = await client.completions.create({ model, prompt: "Hello", max_tokens: 20, ignore_eos: true, stream: true });
      let finish = null;
      for await (const chunk of s) finish = chunk.choices[0]?.finish_reason ?? finish;
      return finish === "length" ? "ok" : `stream ended with ${finish}`;
    } catch (e) {
      if (e instanceof OpenAI.RateLimitError && e.status === 429 && e.code === "rate_limit_exceeded" &&
          e.headers?.["retry-after"] === "1")
        return "429";
      return `${e.constructor.name}: ${e.status} ${e.code} ${e.message}`;
    }
  };
  const res = await Promise.all(Array.from({ length: N }, one));
  const n429 = res.filter((r) => r === "429").length, nok = res.filter((r) => r === "ok").length;
  const other = res.filter((r) => r !== "429" && r !== "ok");
  if (other.length) fail(`under overload: ${JSON.stringify(other)}`);
  else if (!n429 || !nok) fail(`under overload: ${nok} complete, ${n429} rate-limited (want both)`);
  else ok(`overload: ${nok} streams complete, ${n429} RateLimitError (429, Retry-After: 1) with maxRetries 0`);
  process.exit();
}

const models = await client.models.list();
const model = models.data[0].id;
if (!model) fail("no model in /v1/models"); else ok(`models.list: ${model}`);

const c = await client.completions.create({ model, prompt: "The expert", max_tokens: 8, temperature: 0, ignore_eos: true });
if (c.object !== "text_completion" || c.choices[0].finish_reason !== "length" || c.usage.completion_tokens !== 8)
  fail(`completion: ${JSON.stringify(c)}`);
else ok(`completions.create: ${JSON.stringify(c.choices[0].text)}`);

let text = "", finish = null, usage = null;
const cs = await client.completions.create({ model, prompt: "The expert", max_tokens: 8, temperature: 0, ignore_eos: true,
                                             stream: true, stream_options: { include_usage: true } });
for await (const chunk of cs) {
  if (chunk.choices.length) { text += chunk.choices[0].text; finish = chunk.choices[0].finish_reason ?? finish; }
  if (chunk.usage) usage = chunk.usage;
}
if (text !== c.choices[0].text || finish !== "length" || !usage || usage.completion_tokens !== 8)
  fail(`streamed completion: ${JSON.stringify({ text, finish, usage })}`);
else ok("completions.create stream: same text, usage");

const messages = [{ role: "system", content: "Be brief." }, { role: "user", content: "Hello there" }];
const ch = await client.chat.completions.create({ model, messages, max_tokens: 6, temperature: 0, ignore_eos: true });
const m = ch.choices[0].message;
if (ch.object !== "chat.completion" || m.role !== "assistant" || typeof m.content !== "string" || ch.usage.completion_tokens !== 6)
  fail(`chat: ${JSON.stringify(ch)}`);
else ok(`chat.completions.create: ${JSON.stringify(m.content)}`);

let ctext = "", cfinish = null, role = null;
const chs = await client.chat.completions.create({ model, messages, max_tokens: 6, temperature: 0, ignore_eos: true, stream: true });
for await (const chunk of chs) {
  const d = chunk.choices[0]?.delta ?? {};
  if (d.role) role = d.role;
  ctext += d.content ?? "";
  cfinish = chunk.choices[0]?.finish_reason ?? cfinish;
}
if (ctext !== m.content || cfinish !== "length" || role !== "assistant")
  fail(`streamed chat: ${JSON.stringify({ ctext, cfinish, role })}`);
else ok("chat.completions.create stream: same text");

try {
  await client.completions.create({ model: "no-such-model", prompt: "x", max_tokens: 1 });
  fail("unknown model accepted");
} catch (e) {
  if (!(e instanceof OpenAI.NotFoundError) || e.code !== "model_not_found") fail(`unknown model error: ${e}`);
  else ok(`typed error: ${e.status} ${e.code}`);
}
try {
  await new OpenAI({ baseURL: `http://127.0.0.1:${port}/v1`, apiKey: "wrong", maxRetries: 0 })
    .completions.create({ model, prompt: "x", max_tokens: 1 });
  fail("wrong key accepted");
} catch (e) {
  if (!(e instanceof OpenAI.AuthenticationError)) fail(`wrong key error: ${e}`);
  else ok("wrong API key -> AuthenticationError (401)");
}
