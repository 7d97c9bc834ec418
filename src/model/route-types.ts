import type { KeelError } from '../errors/index.ts';
import type { ModelCallFacts, ModelCallHints } from '../spec/model-call.ts';
import type { Model, ModelRequest } from '../spec/model.ts';
import { createGateway } from './gateway.ts';
import type { Gateway, GatewayCallOptions, GatewayCallResult, GatewayOptions } from './gateway.ts';

/** One (account, model) of a route. A Model object is bound to one account: its API key and base URL. */
export interface RouteEntry {
  /** A name for the account, as journaled and used as the circuit-breaker key (`account:<name>`). */
  readonly account: string;
  readonly model: Model;
  /**
   * When any entry of a route has a weight, each call's first attempt goes to an entry drawn in proportion to the
   * weights (0: only as a fallback); the others follow in listed order.
   */
  readonly weight?: number;
}

export interface RoutedCallOptions extends GatewayCallOptions {
  readonly hints?: ModelCallHints;
}

export type RoutedCallResult = GatewayCallResult & ModelCallFacts;

/**
 * A model call with more than retries behind it (a route with fallback, a cascade, a task-class table, a response
 * cache). It is a Model too, so it can be registered by name with `createKeel({ models })`; the runtime calls it
 * directly instead of wrapping it in another gateway.
 */
export interface RoutedModel extends Gateway {
  readonly routed: true;
  call(request: ModelRequest, options: RoutedCallOptions): Promise<RoutedCallResult>;
  /**
   * The same routed model whose gateways also use these options' limiter, lane and tool-call bounds (one run's): what
   * `createKeel` does for each session, so that routes queue in the same lanes as plain models. Circuits and
   * latencies stay shared.
   */
  withGateway?(options: GatewayOptions): RoutedModel;
}

export function isRoutedModel(model: Model): model is RoutedModel {
  return (model as Partial<RoutedModel>).routed === true && typeof (model as Partial<RoutedModel>).call === 'function';
}

/**
 * A routed model with these options' limiter and lane applied to its own gateways (it keeps its fallback and retries);
 * any other model behind a gateway with these options.
 */
export function gatewayFor(model: Model, options: GatewayOptions): Gateway {
  if (!isRoutedModel(model)) return createGateway(model, options);
  return model.withGateway?.(options) ?? model;
}

/**
 * What a run's gateway options add to a route's own entries: the tool-call bounds. Not the run's limiter: it absorbs a
 * 429 by queueing the call again on the same account, where a route must move on to its next account; a route paces
 * only with a limiter given in its own `gateway` options.
 */
export function sessionGatewayOptions(options: GatewayOptions): GatewayOptions {
  return {
    ...(options.toolCallLimits === undefined ? {} : { toolCallLimits: options.toolCallLimits }),
    ...(options.maxLongWaitMs === undefined ? {} : { maxLongWaitMs: options.maxLongWaitMs }),
  };
}

/** The error a routed call gives up with carries its attempts in `details.attempts`, for the journal. */
export type RoutedCallError = KeelError;
