"""A user's API tokens end when their password changes.

A token used to outlive a password change until it expired (30 days) or was
revoked: whoever had stolen one kept it after the victim changed a password they
believed leaked. Browser sessions already end (Django's session auth hash is
derived from the password hash); tokens carry nothing of the password, so the
database deletes them whenever the stored hash changes, whatever wrote it:
``set_password`` then ``save`` (the admin's forms, ``changepassword``,
``load_demo``), a queryset ``update`` or plain SQL. A plain trigger, owned by
the role that migrates, as occupancy's 0008: the application's role cannot
lift it.
"""

from django.conf import settings
from django.db import migrations

from config.database.functions import execute_in_schema

REVOKE = """
CREATE FUNCTION intercalaire_tokens_end_with_the_password() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM knox_authtoken WHERE user_id = NEW.id;
    RETURN NULL;
END
$$;
CREATE TRIGGER intercalaire_tokens_end_with_the_password
AFTER UPDATE OF password ON auth_user
FOR EACH ROW WHEN (OLD.password IS DISTINCT FROM NEW.password)
EXECUTE FUNCTION intercalaire_tokens_end_with_the_password();
"""

DROP_REVOKE = """
DROP TRIGGER intercalaire_tokens_end_with_the_password ON auth_user;
DROP FUNCTION intercalaire_tokens_end_with_the_password();
"""


def create(apps, schema_editor):
    execute_in_schema(schema_editor, REVOKE)


def drop(apps, schema_editor):
    execute_in_schema(schema_editor, DROP_REVOKE)


class Migration(migrations.Migration):
    dependencies = [
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
        ("knox", "0009_extend_authtoken_field"),
        ("organizations", "0001_initial"),
    ]

    operations = [migrations.RunPython(create, drop)]
