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
}

export function isRoutedModel(model: Model): model is RoutedModel {
  return (model as Partial<RoutedModel>).routed === true && typeof (model as Partial<RoutedModel>).call === 'function';
}

/** A routed model as it is (it has its own fallback and retries); any other model behind a gateway with these options. */
export function gatewayFor(model: Model, options: GatewayOptions): Gateway {
  return isRoutedModel(model) ? model : createGateway(model, options);
}

/** The error a routed call gives up with carries its attempts in `details.attempts`, for the journal. */
export type RoutedCallError = KeelError;
