"""Attribution: name the earliest step whose output was wrong, and the steps that consumed it.

A run's steps come from its checkpoints (``get_state_history``), subgraphs included, in
the order they ran; each step has the state it started from and what it wrote. Blame
then asks a counterfactual question of candidate steps: *if this step's output had been
right, would the run have passed?* To answer it, the run is forked from the checkpoint
before the step, the step's output is replaced with a correction (``update_state(...,
as_node=step)``), and the rest of the graph runs again (``invoke(None, ...)``); for a
step inside a subgraph the subgraph finishes first and its output is applied to the
parent graph, up to the root. Corrections come from a reference run (the same request
run without the fault), a check that knows the right value (``route_fits_entities``
knows which agents fit), or a re-sample of the step. Forks run on a fresh in-memory
thread, so the user's thread is never changed, and failures they meet are not recorded.

The earliest step whose correction makes the final state pass the evaluator is found by
bisection over the candidate steps (verified at the boundary; a linear scan takes over if
the outcomes are not monotone). A run with two faults passes under no single correction;
then the earliest step whose correction fixes some of the evaluator's failures
(``Verdict.failures``) and adds none is the first bad assumption (``first_fault``).
Lineage then follows the state keys each step read and wrote: a later step that read a
key written by the blamed step, or by one of its consumers, consumed the wrong output.

Modules, by subject:

- ``steps``: a run's steps from its checkpoints (``load_run``, ``Step``, ``RunSteps``),
  which state keys each node reads and which agent owns each step.
- ``replay``: forking a run with one step's output replaced (``replay``), and re-running
  one step on the same input (``resample``).
- ``corrections``: where corrected outputs come from (``Correction``, ``Corrector``, a
  reference run, re-samples).
- ``verdicts``: judging a final state (``Verdict``, ``checks_evaluator``).
- ``feedback``: the user's feedback as evaluator and as a routing correction.
- ``attribution``: the search itself (``blame``, ``BlameResult``, ``consumers_of``).

The package imports none of them, so importing one loads only what it needs.
"""
