// The wire shapes of the HTTP API: requests are validated with these schemas and the OpenAPI document is generated
// from them, so the two cannot drift apart. The console imports the inferred types.
import { z } from '@hono/zod-openapi';

/** What a key may do. `admin` manages keys and may do everything the others may. */
export const apiRoles = ['read', 'run', 'approve', 'admin'] as const;
export type ApiRole = (typeof apiRoles)[number];

/** Statuses a session can be listed by; `queued`, `running`, `waiting-approval` and `interrupted` are derived from the journal, the lease and the workers' run queue. */
export const sessionStatuses = ['queued', 'running', 'waiting-approval', 'interrupted', 'completed', 'failed', 'cancelled'] as const;

const identifier = z.string().min(1).max(200);
const tenantName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'a tenant is 1 to 64 letters, digits, ".", "_" or "-", starting with a letter or digit');

export const ApiErrorSchema = z
  .object({
    error: z.object({
      code: z.string().openapi({ description: 'A KeelError code, or unauthorized, forbidden, not-found, payload-too-large, rate-limited, invalid-request.' }),
      message: z.string(),
      requestId: z.string(),
      details: z.record(z.string(), z.unknown()).optional(),
    }),
  })
  .openapi('ApiError');
export type ApiError = z.infer<typeof ApiErrorSchema>;

export const MeSchema = z
  .object({ keyId: z.string(), name: z.string(), tenant: z.string(), roles: z.array(z.enum(apiRoles)) })
  .openapi('Me');
export type Me = z.infer<typeof MeSchema>;

export const AgentInfoSchema = z
  .object({
    name: z.string(),
    description: z.string().nullable(),
    defaultTask: z.string().nullable(),
    tools: z.array(z.object({ name: z.string(), description: z.string(), inputSchema: z.record(z.string(), z.unknown()), risk: z.string() })),
  })
  .openapi('AgentInfo');
export type AgentInfo = z.infer<typeof AgentInfoSchema>;
export const AgentListSchema = z.object({ agents: z.array(AgentInfoSchema) }).openapi('AgentList');

export const StartSessionBodySchema = z
  .object({
    agent: identifier.openapi({ description: 'The name of an agent the server loaded.' }),
    task: z.string().min(1).max(200_000),
    priority: z.enum(['interactive', 'batch']).optional().openapi({ description: 'In the model queue, batch runs wait behind interactive ones.' }),
    budget: z
      .object({
        tokens: z.number().int().positive().optional(),
        costUsd: z.number().positive().optional(),
        timeMs: z.number().int().positive().optional(),
      })
      .strict()
      .optional(),
    mode: z.enum(['in-process', 'queue']).optional().openapi({ description: 'Run here (default), or enqueue for workers when the server has a queue.' }),
  })
  .strict()
  .openapi('StartSessionBody');
export type StartSessionBody = z.infer<typeof StartSessionBodySchema>;

const UsageSchema = z.object({ inputTokens: z.number(), outputTokens: z.number(), cacheReadTokens: z.number(), cacheWriteTokens: z.number() });

export const PendingApprovalSchema = z
  .object({ callId: z.string(), tool: z.string(), input: z.unknown(), rule: z.string(), reason: z.string() })
  .openapi('PendingApproval');

export const SessionViewSchema = z
  .object({
    id: z.string(),
    agent: z.string(),
    tenant: z.string(),
    status: z.enum(sessionStatuses),
    createdAt: z.number().openapi({ description: 'Epoch milliseconds.' }),
    updatedAt: z.number(),
    durationMs: z.number(),
    lastSeq: z.number().openapi({ description: 'The sequence number of the last journaled event (the SSE event id).' }),
    turns: z.number(),
    usage: UsageSchema,
    costUsd: z.number().nullable(),
    output: z.string().nullable(),
    error: z.object({ code: z.string(), message: z.string() }).nullable(),
    pendingApprovals: z.array(PendingApprovalSchema),
    priority: z.enum(['interactive', 'batch']),
    startedBy: z.string().nullable().openapi({ description: 'The id of the key that started the session.' }),
  })
  .openapi('SessionView');
export type SessionView = z.infer<typeof SessionViewSchema>;

export const SessionListQuerySchema = z.object({
  status: z.enum(sessionStatuses).optional(),
  agent: identifier.optional(),
  tenant: tenantName.optional(),
  since: z.coerce.number().int().nonnegative().optional().openapi({ description: 'Started at or after (epoch ms).' }),
  until: z.coerce.number().int().nonnegative().optional().openapi({ description: 'Started before (epoch ms).' }),
  limit: z.coerce.number().int().min(1).max(200).optional(),
  cursor: z.string().max(200).optional(),
});
export const SessionListSchema = z.object({ sessions: z.array(SessionViewSchema), nextCursor: z.string().nullable() }).openapi('SessionList');
export type SessionList = z.infer<typeof SessionListSchema>;

export const SessionIdParamsSchema = z.object({ id: identifier.openapi({ param: { name: 'id', in: 'path' } }) });
export const TurnParamsSchema = z.object({
  id: identifier.openapi({ param: { name: 'id', in: 'path' } }),
  turn: z.coerce.number().int().min(1).openapi({ param: { name: 'turn', in: 'path' } }),
});
export const ApprovalParamsSchema = z.object({
  id: identifier.openapi({ param: { name: 'id', in: 'path' } }),
  callId: identifier.openapi({ param: { name: 'callId', in: 'path' } }),
});

export const JournalQuerySchema = z.object({
  after: z.coerce.number().int().nonnegative().optional(),
  limit: z.coerce.number().int().min(1).max(1000).optional(),
});
export const JournalPageSchema = z
  .object({
    events: z.array(z.record(z.string(), z.unknown())).openapi({ description: 'SessionEvent objects (src/spec/events.ts), in seq order.' }),
    lastSeq: z.number(),
  })
  .openapi('JournalPage');
export type JournalPage = z.infer<typeof JournalPageSchema>;

export const EventStreamQuerySchema = z.object({
  after: z.coerce.number().int().nonnegative().optional().openapi({ description: 'Resume after this seq; the Last-Event-ID header wins when both are given.' }),
});

export const ApprovalBodySchema = z
  .object({
    decision: z.enum(['approve', 'reject']),
    editedInput: z.unknown().optional().openapi({ description: 'Approve with these arguments instead; validated against the tool schema.' }),
    reason: z.string().max(2000).optional(),
  })
  .strict()
  .openapi('ApprovalBody');
export type ApprovalBody = z.infer<typeof ApprovalBodySchema>;

export const CancelResultSchema = z.object({ session: SessionViewSchema }).openapi('CancelResult');
export type CancelResult = z.infer<typeof CancelResultSchema>;

export const CounterfactualBodySchema = z
  .object({
    model: z.string().max(200).optional(),
    system: z.string().max(200_000).optional(),
    strategy: z.string().max(100).optional().openapi({ description: 'window:N, elide-tool-results or no-tools.' }),
  })
  .strict()
  .openapi('CounterfactualBody');

export const DiffQuerySchema = z.object({
  a: z.string().min(1).max(220).openapi({ description: '<sessionId>[:<turn>]' }),
  b: z.string().min(1).max(220),
});

/** Payloads the runtime defines elsewhere (trace tree, explain plan, replay, diff, audit): passed through as JSON. */
export const JsonObjectSchema = z.record(z.string(), z.unknown()).openapi('JsonObject');

export const KeyCreateBodySchema = z
  .object({
    name: z.string().min(1).max(100),
    tenant: tenantName.optional().openapi({ description: "The calling key's tenant, the only one allowed (the default); other tenants' keys are made with `keel keys create --tenant`." }),
    roles: z.array(z.enum(apiRoles)).min(1).max(4),
  })
  .strict()
  .openapi('KeyCreateBody');

export const KeyViewSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    tenant: z.string(),
    roles: z.array(z.enum(apiRoles)),
    createdAt: z.number(),
    createdBy: z.string().nullable(),
    revokedAt: z.number().nullable(),
    lastUsedAt: z.number().nullable(),
  })
  .openapi('KeyView');
/** An API key as listed: never the key itself, whose SHA-256 alone is stored. */
export interface KeyView {
  readonly id: string;
  readonly name: string;
  readonly tenant: string;
  readonly roles: ApiRole[];
  readonly createdAt: number;
  readonly createdBy: string | null;
  readonly revokedAt: number | null;
  readonly lastUsedAt: number | null;
}
export const KeyListSchema = z.object({ keys: z.array(KeyViewSchema) }).openapi('KeyList');
export const CreatedKeySchema = z
  .object({ key: z.string().openapi({ description: 'Shown once; only its hash is stored.' }), view: KeyViewSchema })
  .openapi('CreatedKey');
export type CreatedKey = z.infer<typeof CreatedKeySchema>;
export const KeyIdParamsSchema = z.object({ keyId: identifier.openapi({ param: { name: 'keyId', in: 'path' } }) });
