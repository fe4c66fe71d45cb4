"""The upload form: a plain form, no model and no Pillow needed."""

from django import forms


class UploadForm(forms.Form):
    file = forms.FileField(label="File")
