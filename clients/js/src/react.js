// react.js - useOfferUpdates, a drop-in for the frontend's hook, built on watchOffer.
//
// Same options ({offerId, enabled = true, interval = 5000}) and result ({offer, loading, error,
// refetch}) as the hook it replaces; the updates come by SSE, long-poll or conditional polling
// (offer-updates.js decides) instead of a fetch every interval.
//
// SPDX-License-Identifier: MIT

import { useCallback, useEffect, useRef, useState } from "react";
import { watchOffer } from "./offer-updates.js";

const idle = (offerId) => ({ offerId, offer: null, loading: Boolean(offerId), error: null });

/**
 * Live state of one offer. `transport` ("auto" unless given) and `client` (a createOfferClient()
 * client, else the default one set up with configureOffers) are optional extras.
 */
export function useOfferUpdates({ offerId, enabled = true, interval = 5000, transport, client } = {}) {
  const [state, setState] = useState(() => idle(offerId));
  const handleRef = useRef(null);

  // A new offer id starts from nothing: never show one offer's state under another's id.
  const current = state.offerId === offerId ? state : idle(offerId);

  useEffect(() => {
    setState((s) => (s.offerId === offerId ? s : idle(offerId)));
    if (!offerId) return undefined;
    const watch = client ? (id, opts) => client.watch(id, opts) : watchOffer;
    // enabled and interval are read at creation and then followed by the effects below, so that
    // toggling them neither restarts the watch nor drops the offer.
    const handle = watch(offerId, {
      enabled,
      interval,
      transport,
      onUpdate: (offer) => setState({ offerId, offer, loading: false, error: null }),
      onError: (error) => setState((s) => ({ ...s, offerId, loading: false, error })),
      onRecover: () => setState((s) => (s.error ? { ...s, error: null } : s)),
    });
    handleRef.current = handle;
    return () => {
      handle.stop(); // no callback runs after this: no state update after unmount
      if (handleRef.current === handle) handleRef.current = null;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [offerId, transport, client]);

  useEffect(() => {
    handleRef.current?.setEnabled(enabled);
  }, [enabled]);

  useEffect(() => {
    handleRef.current?.setInterval(interval);
  }, [interval]);

  const refetch = useCallback(() => handleRef.current?.refetch() ?? Promise.resolve(null), []);

  return { offer: current.offer, loading: current.loading, error: current.error, refetch };
}

export default useOfferUpdates;
