"""Every blueprint the app serves, in one list."""

from __future__ import annotations


def all_blueprints():
    from handlers.health import bp as health
    from handlers.site import bp as site

    blueprints = [health, site]
    for module_name in ("handlers.console", "handlers.admin", "handlers.api", "handlers.public", "handlers.mobile",
                        "handlers.dingtalk", "handlers.wecom", "handlers.sms", "handlers.hotline", "handlers.grid", "handlers.registry",
                        "handlers.policies", "handlers.knowledge", "handlers.statistics", "handlers.studio"):
        try:
            module = __import__(module_name, fromlist=["bp"])
        except ModuleNotFoundError as error:
            if error.name != module_name:
                raise
            continue
        if hasattr(module, "bp"):
            blueprints.append(module.bp)
    return blueprints
