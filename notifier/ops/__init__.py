"""Operations: metrics, health, the ops HTTP server, ``status``/``replay`` reports and logging.

What an operator looks at; nothing here changes what is delivered. May use every production stage.
Never ``sandbox``.
"""
