// Types for react.js. SPDX-License-Identifier: MIT

import type { Offer, OfferClient, OfferError, OfferTransport } from "./offer-updates.js";

export type { Offer, OfferError, OfferTransport } from "./offer-updates.js";

export interface UseOfferUpdatesOptions {
  /** Nothing is watched while it is null, undefined or "". */
  offerId: string | null | undefined;
  /** Default true. */
  enabled?: boolean;
  /** Polling interval in ms; default 5000. */
  interval?: number;
  /** Default: the client's ("auto"). */
  transport?: OfferTransport;
  /** Default: the client set up with configureOffers(). */
  client?: OfferClient;
}

export interface UseOfferUpdatesResult {
  offer: Offer | null;
  /** True from mount (or a new offerId) until the first state or error. */
  loading: boolean;
  /** The last error, until the next success. */
  error: OfferError | null;
  /** Fetches now; resolves to the newest offer known. */
  refetch: () => Promise<Offer | null>;
}

export declare function useOfferUpdates(options: UseOfferUpdatesOptions): UseOfferUpdatesResult;
export default useOfferUpdates;
