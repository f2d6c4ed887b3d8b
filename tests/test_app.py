"""The Flask application class itself (core/__init__.py)."""

import gc


def test_ensure_sync_remembers_plain_functions_and_leaves_coroutines_to_flask(app):
    def hook():
        return "done"

    assert app.ensure_sync(hook) is hook
    assert app.ensure_sync(hook) is hook and app._is_sync[hook] is True

    async def view():
        return "done"

    try:
        made = app.ensure_sync(view)
    except RuntimeError:  # Flask without its "async" extra says so, as it always did
        made = None
    assert made is not view and app._is_sync[view] is False


def test_a_requests_own_functions_are_not_kept(app):
    def after_this_request(response):
        return response

    app.ensure_sync(after_this_request)
    assert len(app._is_sync) >= 1
    kept = len(app._is_sync)
    del after_this_request
    gc.collect()
    assert len(app._is_sync) == kept - 1
