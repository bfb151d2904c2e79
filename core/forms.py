"""The base of every admin form that writes through a service, and how a service's refusal
shows on a form."""

import re
from typing import Any

from django import forms
from django.db import models, transaction

from core.errors import DomainError

_FIELD_BASE = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)(.*)$")


def apply_domain_error(form: forms.BaseForm, exc: DomainError) -> None:
    """Show a service's refusal on the form: field rows on their fields, the rest on top."""
    unplaced = []
    for row in exc.errors:
        match = _FIELD_BASE.match(row.get("field") or "")
        base, detail = (match.group(1), match.group(2).lstrip(".")) if match else ("", "")
        if base in form.fields:
            form.add_error(base, f"{detail}: {row['message']}" if detail else row["message"])
        else:
            unplaced.append(row)
    if not exc.errors:
        form.add_error(None, exc.message)
    for row in unplaced:
        form.add_error(
            None, f"{row['field']}: {row['message']}" if row["field"] else row["message"]
        )


def _formfield(db_field: models.Field, **kwargs: Any) -> forms.Field | None:
    if isinstance(db_field, models.URLField):
        kwargs.setdefault("assume_scheme", "https")
    return db_field.formfield(**kwargs)


class ServiceModelForm(forms.ModelForm):
    """A model form whose write is one service call (``write``).

    The admin only learns about a domain error if it surfaces during validation, so the call is
    the last validation step, in a savepoint of the admin's transaction: a refusal becomes form
    errors on the re-rendered page, never a 500. ``save`` returns the instance the service wrote.
    """

    class Meta:
        formfield_callback = _formfield  # subclasses' Meta inherit this Meta

    def write(self, data: dict[str, Any]):
        """Create or update through the service and return the saved instance."""
        raise NotImplementedError

    @property
    def adding(self) -> bool:
        return self.instance._state.adding

    def changed(self, data: dict[str, Any], names) -> dict[str, Any]:
        """The subset of ``names`` the user changed (all of them when adding)."""
        return {n: data[n] for n in names if n in data and (self.adding or n in self.changed_data)}

    def _post_clean(self) -> None:
        # The service validates the model; Django's model validation would only duplicate it.
        if self.errors:
            return
        try:
            with transaction.atomic():
                self.instance = self.write(self.cleaned_data)
        except DomainError as exc:
            apply_domain_error(self, exc)

    def save(self, commit: bool = True):
        return self.instance

    def save_m2m(self) -> None:
        """Many-to-many values are written by the service."""
