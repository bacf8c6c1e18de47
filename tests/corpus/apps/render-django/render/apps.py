from django.apps import AppConfig


class RenderConfig(AppConfig):
    default_auto_field = 'django.db.models.BigAutoField'
    name = 'render'
