"""The router's classifier: fitted on catalog examples, calibrated, thresholded, cached.

Signals, chosen by measurement (``python -m evals.router_table``: dev/test of the routing
dataset, synthetic catalogs): the bundled MiniLM embedding (int8-quantised by default) of
the request with its payload masked (quoted text, code, links), and TF-IDF word and
character n-grams of the request as written. The embedding feeds a ridge regression onto
one-hot agents, the TF-IDF features a multinomial naive Bayes model; their scores are added
with a weight and turned into probabilities by a temperature, both fitted on out-of-fold
scores. Both models are sums over examples, so every validation fold and held-out agent
is the full fit minus some rows: fitting 150 agents x 100 examples costs seconds beyond
encoding, where the joint SVM of ``nova-hybrid-svm/4`` refitted per fold took ~900
CPU-seconds. Example embeddings are cached by text hash (``nodes/embedding_cache.py``),
so adding an example re-encodes one text.

Abstaining needs thresholds, and those are fitted too: on out-of-fold scores of the
examples (in scope; folds keep an agent's near-duplicate examples together), of the
catalog's out-of-scope examples, and of whole agents held out of training (pseudo
out-of-scope), choosing the thresholds that catch the most out-of-scope requests while
abstaining on at most ``abstain_target`` of in-scope ones: ``max_in_scope_abstain`` less
a binomial margin, because validation rates understate the rate on new requests.

The fitted state is cached under ``settings.data_dir / "router"``, keyed by a hash of the
catalog's routable content, the router config, the encoder version and this algorithm's
version: any change refits on first use.

Modules, by subject:

- ``config``: ``RouterConfig`` and reading ``router.yaml``.
- ``text``: masking a request's payload, a description's positive sentences.
- ``model``: the fitted state (``FittedRouter``), scoring, the abstain rule, the cache key
  and ``ROUTER_ALGORITHM``: all a cached router needs per request.
- ``fit``: fitting on a catalog (corpus, closed-form models, out-of-fold scores).
- ``folds``: validation folds that keep near-duplicate examples together.
- ``calibration``: fusion weight, temperature and abstain thresholds from validation scores.
- ``cache``: ``load_or_fit`` and where fits are kept.

The package imports none of them, so importing one loads only what it needs.
"""
